using System.Diagnostics;
using System.Globalization;
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
/// Sweep throughput per store, for the three kinds of expired state: N expired sessions (default 1,000,000) swept
/// by <see cref="SessionManager.SweepAsync"/>, N expired refresh tokens (one family each) swept by the store in
/// batches of 10,000 as the engine's housekeeping does, and N expired revocation-log entries pruned. Beside each set
/// live records stay, and one reader keeps looking them up by id: lookup p50/p99 before (3 s) and during the sweep.
/// </summary>
internal static class SweepBench
{
    // As the housekeeping (BouncerEngineService) sweeps refresh tokens.
    private const int RefreshBatch = 10_000;

    public static async Task<int> RunAsync(string[] args)
    {
        string? Arg(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        var count = int.Parse(Arg("--sessions") ?? "1000000", CultureInfo.InvariantCulture);
        var families = int.Parse(Arg("--families") ?? count.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var revocations = int.Parse(Arg("--revocations") ?? count.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var batch = int.Parse(Arg("--batch") ?? new SessionOptions().SweepBatchSize.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var only = Arg("--stores")?.Split(',') ?? ["memory", "sqlite", "redis", "cluster", "postgres"];
        var outPath = Arg("--out");
        var rows = new List<string>();
        var past = new FixedClock(DateTimeOffset.UtcNow.AddDays(-1));
        var bench = new Runner(count, families, revocations, batch, rows);

        if (only.Contains("memory"))
        {
            await bench.SessionsAsync("memory", () => Task.FromResult<(ISessionStore, ISessionStore)>(Same(new MemorySessionStore())), async (store, n) =>
            {
                var seeding = new SessionManager(store, new InProcessRevocationChannel(), past);
                await Parallel.ForAsync(0, n, async (i, ct) => await seeding.CreateAsync("old" + (i % 1000), ct));
            });
            var refresh = new MemoryRefreshTokenStore();
            await bench.RefreshAsync("memory", refresh, async n => { for (var i = 0; i < n; i++) await refresh.CreateAsync(ExpiredToken(i, past), default); });
            var log = new InProcessRevocationChannel();
            await bench.PruneAsync("memory", log, async n => { for (var i = 0; i < n; i++) await log.PublishAsync(ExpiredRevocation(i, past), default); });
        }

        var dir = Directory.CreateTempSubdirectory("bouncer-sweep-bench-");
        if (only.Contains("sqlite"))
        {
            var path = Path.Combine(dir.FullName, "sweep.db");
            var t = past.GetUtcNow().ToUnixTimeMilliseconds();
            void Sql(string sql)
            {
                using var c = new SqliteConnection($"Data Source={path};Pooling=False");
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandTimeout = 600;
                cmd.CommandText = sql;
                cmd.ExecuteNonQuery();
            }
            const string Series = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {0})";
            await bench.SessionsAsync("SQLite (WAL, synchronous=FULL)", () => Task.FromResult<(ISessionStore, ISessionStore)>(Same(new SqliteSessionStore(path))), (_, n) =>
            {
                Sql(string.Format(CultureInfo.InvariantCulture, Series, n) + $"""
                    INSERT INTO bouncer_sessions (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at)
                    SELECT randomblob(32), 'old' || (i % 1000), {t}, {t}, {t}, {t} FROM n
                    """);
                return Task.CompletedTask;
            });
            using var refresh = new SqliteRefreshTokenStore(path);
            await bench.RefreshAsync("SQLite (WAL, synchronous=FULL)", refresh, n =>
            {
                Sql(string.Format(CultureInfo.InvariantCulture, Series, n) + $"""
                    INSERT INTO bouncer_refresh_tokens (token_hash, family_id, user_id, generation, issued_at, expires_at, family_expires_at, auth_time)
                    SELECT 'h' || i, 'f' || i, 'old' || (i % 1000), 0, {t}, {t}, {t}, {t} FROM n
                    """);
                return Task.CompletedTask;
            });
            await using var log = new SqliteRevocationChannel(path);
            await bench.PruneAsync("SQLite (WAL, synchronous=FULL)", log, n =>
            {
                Sql(string.Format(CultureInfo.InvariantCulture, Series, n) + $"""
                    INSERT INTO bouncer_revocations (kind, subject, at, expires_at) SELECT 2, 'jti' || i, {t}, {t} FROM n
                    """);
                return Task.CompletedTask;
            });
        }

        foreach (var (label, endpoint) in new[] { ("Redis", Arg("--redis")), ("Redis Cluster (3 masters)", Arg("--redis-cluster")) })
        {
            if (endpoint is null || !only.Contains(label == "Redis" ? "redis" : "cluster")) continue;
            using var mux = await ConnectionMultiplexer.ConnectAsync(endpoint);
            var prefix = $"sweep{Environment.ProcessId}{label.Length}:";
            var live = new RedisStoreOptions { KeyPrefix = prefix };
            // Written as of a day ago: their TTL (as of then) keeps them in Redis, their expiry is past.
            var asOfThen = new RedisStoreOptions { KeyPrefix = prefix, TimeProvider = past, TtlSlack = TimeSpan.FromDays(2) };
            await bench.SessionsAsync(label, () => Task.FromResult<(ISessionStore, ISessionStore)>((new RedisSessionStore(mux, live), new RedisSessionStore(mux, asOfThen))), async (seeder, n) =>
            {
                var seeding = new SessionManager(seeder, new InProcessRevocationChannel(), past);
                await Parallel.ForAsync(0, n, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, ct) => await seeding.CreateAsync("old" + (i % 1000), ct));
            });
            var refreshSeeder = new RedisRefreshTokenStore(mux, asOfThen);
            await bench.RefreshAsync(label, new RedisRefreshTokenStore(mux, live), n =>
                Parallel.ForAsync(0, n, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, ct) => await refreshSeeder.CreateAsync(ExpiredToken(i, past), ct)));
            var log = new RedisRevocationChannel(mux, live);
            await bench.PruneAsync(label, log, n =>
                Parallel.ForAsync(0, n, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, ct) => await log.PublishAsync(ExpiredRevocation(i, past), ct)));
        }

        if (Arg("--postgres") is { } postgres && only.Contains("postgres"))
        {
            var schema = $"sweep{Environment.ProcessId}";
            await using var source = NpgsqlDataSource.Create(postgres);
            // One command per statement: VACUUM refuses to run in a batch.
            async Task Sql(params string[] statements)
            {
                await using var c = await source.OpenConnectionAsync();
                foreach (var sql in statements)
                {
                    await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 900 };
                    await cmd.ExecuteNonQueryAsync();
                }
            }
            var options = new PostgresStoreOptions { Schema = schema };
            await Sql($"CREATE SCHEMA IF NOT EXISTS {schema}; " + PostgresSessionStore.SchemaSql(new PostgresSessionStoreOptions { Schema = schema })
                + PostgresRefreshTokenStore.SchemaSql(options) + PostgresRevocationChannel.SchemaSql(options));
            const string Then = "now() - interval '1 day'";
            await bench.SessionsAsync("PostgreSQL", () => Task.FromResult<(ISessionStore, ISessionStore)>(Same(new PostgresSessionStore(source, new PostgresSessionStoreOptions { Schema = schema }))), async (_, n) =>
            {
                await Sql($"""
                    INSERT INTO {schema}.bouncer_sessions (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at)
                    SELECT sha256(i::text::bytea), 'old' || (i % 1000), {Then}, {Then}, {Then}, {Then} FROM generate_series(1, {n}) i
                    """, $"VACUUM ANALYZE {schema}.bouncer_sessions");
            });
            await bench.RefreshAsync("PostgreSQL", new PostgresRefreshTokenStore(source, options), n => Sql($"""
                INSERT INTO {schema}.bouncer_refresh_tokens (token_hash, family_id, user_id, generation, issued_at, expires_at, family_expires_at, auth_time)
                SELECT 'h' || i, 'f' || i, 'old' || (i % 1000), 0, {Then}, {Then}, {Then}, {Then} FROM generate_series(1, {n}) i
                """, $"VACUUM ANALYZE {schema}.bouncer_refresh_tokens"));
            var log = new PostgresRevocationChannel(source, options);
            await bench.PruneAsync("PostgreSQL", log, n => Sql($"""
                INSERT INTO {schema}.bouncer_revocations (kind, subject, at, expires_at) SELECT 2, 'jti' || i, {Then}, {Then} FROM generate_series(1, {n}) i
                """, $"VACUUM ANALYZE {schema}.bouncer_revocations"));
        }

        var text = new StringBuilder();
        text.AppendLine("| store | what | expired | seed s | sweep s | swept/s | left | lookup p50 µs before | p99 before | p50 during | p99 during | lookup misses |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows) text.AppendLine(r);
        Console.WriteLine(text);
        if (outPath is not null) await File.WriteAllTextAsync(outPath, text.ToString());
        dir.Delete(recursive: true);
        return 0;
    }

    private static (ISessionStore, ISessionStore) Same(ISessionStore store) => (store, store);

    // Expired a day ago as far as the sweep's clock goes; token hash and family are unique per i.
    private static RefreshRecord ExpiredToken(int i, TimeProvider past)
    {
        var then = past.GetUtcNow();
        var id = i.ToString(CultureInfo.InvariantCulture);
        return new RefreshRecord
        {
            TokenHash = "h" + id, FamilyId = "f" + id, UserId = "old" + (i % 1000), Generation = 0,
            IssuedAt = then.AddMinutes(-1), ExpiresAt = then, FamilyExpiresAt = then,
        };
    }

    private static RevocationRecord ExpiredRevocation(int i, TimeProvider past) =>
        new(RevocationKind.Token, "jti" + i.ToString(CultureInfo.InvariantCulture), past.GetUtcNow().AddMinutes(-1), past.GetUtcNow());

    private sealed class Runner(int sessions, int families, int revocations, int batch, List<string> rows)
    {
        public async Task SessionsAsync(string name, Func<Task<(ISessionStore Store, ISessionStore Seeder)>> open, Func<ISessionStore, int, Task> seed)
        {
            if (sessions == 0) return;
            var (store, seeder) = await open();
            var seedSeconds = await TimeAsync(() => seed(seeder, sessions));
            Console.Error.WriteLine($"{name}: seeded {sessions} sessions in {seedSeconds:0.0} s");
            var manager = new SessionManager(store, new InProcessRevocationChannel(), TimeProvider.System,
                new SessionOptions { SweepBatchSize = batch, TouchInterval = TimeSpan.FromHours(1), IdleTimeout = TimeSpan.FromHours(2), AbsoluteTimeout = TimeSpan.FromHours(3) });
            var live = new List<string>();
            for (var i = 0; i < 100; i++) live.Add((await manager.CreateAsync("live" + i, default)).Id);
            var i0 = 0;
            await MeasureAsync(name, "sessions", seedSeconds,
                async () => await manager.GetAsync(live[i0++ % live.Count], default) is not null,
                async () => await manager.SweepAsync(null, default),
                async () => await store.SweepAsync(DateTimeOffset.UtcNow, batch, default));
            if (store is IDisposable d) d.Dispose();
        }

        public async Task RefreshAsync(string name, IRefreshTokenStore store, Func<int, Task> seed)
        {
            if (families == 0) return;
            var seedSeconds = await TimeAsync(() => seed(families));
            Console.Error.WriteLine($"{name}: seeded {families} refresh families in {seedSeconds:0.0} s");
            var now = DateTimeOffset.UtcNow;
            var live = new List<string>();
            for (var i = 0; i < 100; i++)
            {
                var r = new RefreshRecord
                {
                    TokenHash = $"live{i}", FamilyId = $"livef{i}", UserId = $"live{i}", Generation = 0,
                    IssuedAt = now, ExpiresAt = now.AddHours(1), FamilyExpiresAt = now.AddDays(1),
                };
                await store.CreateAsync(r, default);
                live.Add(r.TokenHash);
            }
            var i0 = 0;
            // As the engine's housekeeping does: batches until one comes back short.
            async Task<long> SweepAll()
            {
                long total = 0;
                int n;
                do total += n = await store.SweepAsync(DateTimeOffset.UtcNow, RefreshBatch, default);
                while (n == RefreshBatch);
                return total;
            }
            await MeasureAsync(name, "refresh families", seedSeconds,
                async () => await store.GetAsync(live[i0++ % live.Count], default) is not null,
                SweepAll,
                async () => await store.SweepAsync(DateTimeOffset.UtcNow, RefreshBatch, default));
        }

        public async Task PruneAsync(string name, IRevocationChannel log, Func<int, Task> seed)
        {
            if (revocations == 0) return;
            var seedSeconds = await TimeAsync(() => seed(revocations));
            Console.Error.WriteLine($"{name}: seeded {revocations} revocation-log entries in {seedSeconds:0.0} s");
            var now = DateTimeOffset.UtcNow;
            long newest = 0;
            for (var i = 0; i < 100; i++)
                newest = await log.PublishAsync(new RevocationRecord(RevocationKind.Token, "live" + i, now, now.AddHours(1)), default);
            // The lookup a listener makes: the page after a cursor near the head of the log.
            await MeasureAsync(name, "revocation log", seedSeconds,
                async () => (await log.ReadAfterAsync(newest - 10, 100, default)).Count == 10,
                async () => await log.PruneAsync(DateTimeOffset.UtcNow, default),
                async () => await log.PruneAsync(DateTimeOffset.UtcNow, default));
        }

        private async Task MeasureAsync(string name, string what, double seedSeconds, Func<Task<bool>> lookup, Func<Task<long>> sweep, Func<Task<int>> leftOver)
        {
            var before = new List<double>();
            var during = new List<double>();
            var misses = 0;
            var phase = before;
            using var stop = new CancellationTokenSource();
            var reader = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var t = Stopwatch.GetTimestamp();
                    if (!await lookup()) misses++;
                    Volatile.Read(ref phase).Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
                }
            });
            await Task.Delay(TimeSpan.FromSeconds(3));
            Volatile.Write(ref phase, during);
            await Task.Delay(50);
            var started = Stopwatch.GetTimestamp();
            var swept = await sweep();
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            stop.Cancel();
            await reader;
            var left = await leftOver();
            before.Sort();
            during.Sort();
            static double P(List<double> s, double q) => s.Count == 0 ? double.NaN : s[Math.Min(s.Count - 1, (int)(s.Count * q))];
            Console.Error.WriteLine($"{name}: swept {swept} {what} in {seconds:0.0} s");
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {what} | {swept:N0} | {seedSeconds:0.0} | {seconds:0.0} | {swept / seconds:N0} | {left} | {P(before, 0.5):0} | {P(before, 0.99):0} | {P(during, 0.5):0} | {P(during, 0.99):0} | {misses} |"));
            // Each row as soon as it is measured: a long run stopped part-way keeps what it measured.
            Console.Error.WriteLine(rows[^1]);
        }

        private static async Task<double> TimeAsync(Func<Task> work)
        {
            var started = Stopwatch.GetTimestamp();
            await work();
            return Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
