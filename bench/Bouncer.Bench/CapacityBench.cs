using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;
using StackExchange.Redis;

namespace Bouncer.Bench;

/// <summary>
/// Memory per session and per refresh family, per store, measured: N sessions (default 100,000; two per user,
/// user ids like <c>user123@example.com</c>, no data, no client) and N refresh families written through the
/// engine's stores, then Redis <c>INFO memory</c> used_memory after minus before, PostgreSQL
/// <c>pg_total_relation_size</c> (table, indexes, TOAST), the SQLite file after a checkpoint, the memory stores'
/// GC heap after minus before. And the revocation set: bytes per entry from <see cref="GC.GetTotalMemory"/> around
/// 1,000,000 token (22-char jti) and 1,000,000 session (43-char sid) revocations. On the way, the rates of those
/// writes through the stores (parallel callers): sessions created, refresh families created, revocations published.
/// </summary>
internal static class CapacityBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Arg(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        var n = int.Parse(Arg("--sessions") ?? "100000", CultureInfo.InvariantCulture);
        var revocations = int.Parse(Arg("--revocations") ?? "1000000", CultureInfo.InvariantCulture);
        var outPath = Arg("--out");
        var rows = new List<string>();
        var rates = new List<string>();
        var now = DateTimeOffset.UtcNow;
        string User(int i) => $"user{(i / 2).ToString(CultureInfo.InvariantCulture)}@example.com";
        RefreshRecord Token(int i) => new()
        {
            TokenHash = Hash("t" + i), FamilyId = Hash("f" + i)[..22], UserId = User(i), Generation = 0, Scope = "openid profile",
            IssuedAt = now, AuthTime = now, ExpiresAt = now.AddDays(7), FamilyExpiresAt = now.AddDays(30),
        };
        async Task Rate(string store, string what, int count, int callers, Func<int, Task> write)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = callers }, async (i, _) => await write(i));
            var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            rates.Add(string.Create(CultureInfo.InvariantCulture, $"| {store} | {what} | {count:N0} | {callers} | {seconds:0.0} | {count / seconds:N0} |"));
            Console.Error.WriteLine(rates[^1]);
        }
        void Row(string store, string what, double bytes, string how)
        {
            rows.Add(string.Create(CultureInfo.InvariantCulture, $"| {store} | {what} | {n:N0} | {bytes / 1e6:0.0} | {bytes / n:0} | {how} |"));
            Console.Error.WriteLine(rows[^1]);
        }

        // Memory stores: the GC heap after a full collection, before and after.
        {
            var before = GC.GetTotalMemory(true);
            var store = new MemorySessionStore();
            var sessions = new SessionManager(store, new InProcessRevocationChannel());
            for (var i = 0; i < n; i++) await sessions.CreateAsync(User(i), default);
            var after = GC.GetTotalMemory(true);
            Row("memory", "session", after - before, "GC.GetTotalMemory(true) after - before");
            GC.KeepAlive(store);
            before = GC.GetTotalMemory(true);
            var refresh = new MemoryRefreshTokenStore();
            for (var i = 0; i < n; i++) await refresh.CreateAsync(Token(i), default);
            after = GC.GetTotalMemory(true);
            Row("memory", "refresh family (1 token)", after - before, "GC.GetTotalMemory(true) after - before");
            GC.KeepAlive(refresh);
        }

        var dir = Directory.CreateTempSubdirectory("bouncer-capacity-");
        {
            // Rows as the store writes them; inserted in one transaction here (the store's own path fsyncs per session).
            var path = Path.Combine(dir.FullName, "capacity.db");
            using (var _ = new SqliteSessionStore(path)) { }
            using (var _ = new SqliteRefreshTokenStore(path)) { }
            var empty = FileBytes(path);
            using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                c.Open();
                using var tx = c.BeginTransaction();
                using var cmd = c.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "INSERT INTO bouncer_sessions (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at) VALUES ($id, $u, $t, $t, $e, $a)";
                var id = cmd.Parameters.Add("$id", SqliteType.Blob);
                var u = cmd.Parameters.Add("$u", SqliteType.Text);
                cmd.Parameters.AddWithValue("$t", now.ToUnixTimeMilliseconds());
                cmd.Parameters.AddWithValue("$e", now.AddMinutes(30).ToUnixTimeMilliseconds());
                cmd.Parameters.AddWithValue("$a", now.AddHours(8).ToUnixTimeMilliseconds());
                for (var i = 0; i < n; i++)
                {
                    id.Value = RandomNumberGenerator.GetBytes(32);
                    u.Value = User(i);
                    cmd.ExecuteNonQuery();
                }
                tx.Commit();
                using var checkpoint = c.CreateCommand();
                checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
                checkpoint.ExecuteNonQuery();
            }
            var withSessions = FileBytes(path);
            Row("SQLite", "session", withSessions - empty, "file size after - before (WAL checkpointed)");
            using (var refresh = new SqliteRefreshTokenStore(path))
            {
                // Through the store: one commit per token, so a smaller share of N.
                for (var i = 0; i < Math.Min(n, 5000); i++) await refresh.CreateAsync(Token(i), default);
            }
            using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                c.Open();
                using var checkpoint = c.CreateCommand();
                checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
                checkpoint.ExecuteNonQuery();
            }
            var perToken = (FileBytes(path) - withSessions) / (double)Math.Min(n, 5000);
            rows.Add(string.Create(CultureInfo.InvariantCulture, $"| SQLite | refresh family (1 token) | {Math.Min(n, 5000):N0} | {perToken * Math.Min(n, 5000) / 1e6:0.0} | {perToken:0} | file size after - before, through the store |"));
        }

        foreach (var (label, endpoint) in new[] { ("Redis", Arg("--redis")), ("Redis Cluster (3 masters, sum)", Arg("--redis-cluster")) })
        {
            if (endpoint is null) continue;
            using var mux = await ConnectionMultiplexer.ConnectAsync(endpoint + ",allowAdmin=true");   // INFO needs admin mode
            var options = new RedisStoreOptions { KeyPrefix = "cap:" };
            async Task<long> UsedMemory()
            {
                long total = 0;
                foreach (var server in mux.GetServers().Where(s => !s.IsReplica))
                {
                    var info = await server.InfoAsync("memory");
                    total += long.Parse(info.SelectMany(g => g).First(kv => kv.Key == "used_memory").Value, CultureInfo.InvariantCulture);
                }
                return total;
            }
            var before = await UsedMemory();
            var sessions = new SessionManager(new RedisSessionStore(mux, options), new InProcessRevocationChannel());
            await Rate(label, "session created (SessionManager.CreateAsync)", n, 128, async i => await sessions.CreateAsync(User(i), default));
            var after = await UsedMemory();
            Row(label, "session", after - before, "INFO memory used_memory after - before");
            before = after;
            var refresh = new RedisRefreshTokenStore(mux, options);
            await Rate(label, "refresh family created (store.CreateAsync)", n, 128, async i => await refresh.CreateAsync(Token(i), default));
            after = await UsedMemory();
            Row(label, "refresh family (1 token)", after - before, "INFO memory used_memory after - before");
            var channel = new RedisRevocationChannel(mux, options);
            await Rate(label, "revocation published (log + push)", Math.Min(n, 50_000), 128, async i =>
                await channel.PublishAsync(new RevocationRecord(RevocationKind.Token, "jti" + i, now, now.AddMinutes(15)), default));
        }

        if (Arg("--postgres") is { } postgres)
        {
            await using var source = NpgsqlDataSource.Create(postgres);
            var schema = $"cap{Environment.ProcessId}";
            var options = new PostgresStoreOptions { Schema = schema };
            var sessionOptions = new PostgresSessionStoreOptions { Schema = schema };
            await using (var c = await source.OpenConnectionAsync())
            await using (var cmd = new NpgsqlCommand($"CREATE SCHEMA {schema}; " + PostgresSessionStore.SchemaSql(sessionOptions) + PostgresRefreshTokenStore.SchemaSql(options), c))
                await cmd.ExecuteNonQueryAsync();
            async Task<long> Size(string table)
            {
                await using var c = await source.OpenConnectionAsync();
                await using (var vacuum = new NpgsqlCommand($"VACUUM {schema}.{table}", c)) await vacuum.ExecuteNonQueryAsync();
                await using var cmd = new NpgsqlCommand($"SELECT pg_total_relation_size('{schema}.{table}')", c);
                return (long)(await cmd.ExecuteScalarAsync())!;
            }
            var before = await Size("bouncer_sessions");
            var sessions = new SessionManager(new PostgresSessionStore(source, sessionOptions), new InProcessRevocationChannel());
            await Rate("PostgreSQL", "session created (SessionManager.CreateAsync)", n, 16, async i => await sessions.CreateAsync(User(i), default));
            Row("PostgreSQL", "session", await Size("bouncer_sessions") - before, "pg_total_relation_size after - before (heap, indexes, TOAST)");
            before = await Size(PostgresRefreshTokenStore.TableName);
            var refresh = new PostgresRefreshTokenStore(source, options);
            await Rate("PostgreSQL", "refresh family created (store.CreateAsync)", n, 16, async i => await refresh.CreateAsync(Token(i), default));
            Row("PostgreSQL", "refresh family (1 token)", await Size(PostgresRefreshTokenStore.TableName) - before, "pg_total_relation_size after - before (heap, indexes, TOAST)");
            await using (var c = await source.OpenConnectionAsync())
            await using (var cmd = new NpgsqlCommand(PostgresRevocationChannel.SchemaSql(options), c))
                await cmd.ExecuteNonQueryAsync();
            var channel = new PostgresRevocationChannel(source, options);
            await Rate("PostgreSQL", "revocation published (log + NOTIFY)", Math.Min(n, 50_000), 16, async i =>
                await channel.PublishAsync(new RevocationRecord(RevocationKind.Token, "jti" + i, now, now.AddMinutes(15)), default));
        }

        // The revocation set every instance holds in memory.
        var text = new StringBuilder();
        text.AppendLine("| store | what | count | MB | bytes each | how |");
        text.AppendLine("|---|---|---:|---:|---:|---|");
        foreach (var r in rows) text.AppendLine(r);
        text.AppendLine();
        text.AppendLine("| store | write | count | callers | s | per second |");
        text.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var r in rates) text.AppendLine(r);
        text.AppendLine();
        text.AppendLine("| revocation set entries | count | MB | bytes each |");
        text.AppendLine("|---|---:|---:|---:|");
        foreach (var (kind, length) in new[] { (RevocationKind.Token, 16), (RevocationKind.Session, 32) })
        {
            var before = GC.GetTotalMemory(true);
            var set = new RevocationSet();
            var expires = now.AddMinutes(15);
            string first = "";
            // The subject strings are made inside the measured span: each entry holds its own, as parsed from the log.
            for (var i = 0; i < revocations; i++)
            {
                var subject = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(length));
                if (i == 0) first = subject;
                set.Apply(new RevocationRecord(kind, subject, now, expires));
            }
            var bytes = GC.GetTotalMemory(true) - before;
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {kind} ({first.Length}-char subject) | {revocations:N0} | {bytes / 1e6:0.0} | {bytes / (double)revocations:0} |"));
            GC.KeepAlive(set);
        }
        Console.WriteLine(text);
        if (outPath is not null) await File.WriteAllTextAsync(outPath, text.ToString());
        dir.Delete(recursive: true);
        return 0;
    }

    private static string Hash(string s) => Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(s)));

    private static long FileBytes(string path) =>
        new[] { path, path + "-wal", path + "-shm" }.Where(File.Exists).Sum(p => new FileInfo(p).Length);
}
