using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace Bouncer.Bench;

/// <summary>
/// Get-by-id per session store over a million sessions, each beside the raw driver call it is built on (and
/// everything beside a plain ConcurrentDictionary): latency with one caller (p50/p99 over N lookups) and
/// throughput with many concurrent callers. A Stopwatch harness: warm-up first, then interleaved rounds (the
/// contender order rotates each round), and the table reports the median round.
/// </summary>
/// <remarks>
/// Every contender of a group reads the same key sequence (random existing keys, fixed seed). Raw baselines
/// get the driver's minimum: precomputed key bytes/strings, one dedicated prepared command per caller, the
/// columns read but no <see cref="SessionRecord"/> built; so "store / raw" is everything the store adds.
/// </remarks>
internal static class StoreBench
{
    private const int Users = 250_000;                       // 4 sessions per user
    private const string RedisPrefix = "bouncerbench:";     // the store's layout under a bench-only prefix
    private const string PgTable = "bouncer_bench_sessions";
    private const string SqliteTable = SqliteSessionStore.DefaultTableName;
    private const string Data = """{"theme":"dark","locale":"en-GB"}""";
    private const string Client = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 203.0.113.7";

    /// <summary>One lookup: (caller index, position in the key sequence) to found/not found.</summary>
    private sealed record Contender(string Name, string Group, bool IsBaseline, int N, bool InMemory, Func<int, int, ValueTask<bool>> Op);

    private sealed class Samples(int rounds)
    {
        public double[] P50 { get; } = new double[rounds];
        public double[] P99 { get; } = new double[rounds];
        public double[] Throughput { get; } = new double[rounds];
    }

    private sealed record Options(int Sessions, int Rounds, int Callers, TimeSpan Slice, int NMemory, int NSqlite, int NNetwork,
        string? Redis, string? RedisCluster, string? Postgres, string? SqliteDir, string? Out);

    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        string? Arg(string name)
        {
            int at = Array.LastIndexOf(args, name);   // the last one wins: run-store-bench.sh passes extra args after its own
            return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
        }
        bool quick = args.Contains("--quick");
        // --only sqlite,redis,postgres: measure only those network/file stores (the in-memory rows always run: they are the
        // ConcurrentDictionary baseline column).
        var only = Arg("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool Want(string group) => only is null || only.Contains(group, StringComparer.OrdinalIgnoreCase);
        var o = new Options(
            Sessions: int.Parse(Arg("--sessions") ?? (quick ? "100000" : "1000000"), CultureInfo.InvariantCulture),
            Rounds: int.Parse(Arg("--rounds") ?? (quick ? "3" : "5"), CultureInfo.InvariantCulture),
            Callers: int.Parse(Arg("--callers") ?? "32", CultureInfo.InvariantCulture),
            Slice: TimeSpan.FromSeconds(double.Parse(Arg("--slice") ?? (quick ? "0.5" : "2"), CultureInfo.InvariantCulture)),
            NMemory: quick ? 20_000 : 200_000, NSqlite: quick ? 10_000 : 100_000, NNetwork: quick ? 3_000 : 20_000,
            Redis: Arg("--redis"), RedisCluster: Arg("--redis-cluster"), Postgres: Arg("--postgres"), SqliteDir: Arg("--sqlite-dir"), Out: Arg("--out"));

        // Blocking stores (SQLite) hold a pool thread per caller: have them all from the start.
        ThreadPool.SetMinThreads(o.Callers * 2 + 8, o.Callers * 2 + 8);
        var total = Stopwatch.StartNew();
        Log($"generating {o.Sessions:N0} sessions");
        var records = Generate(o.Sessions);
        var rng = new Random(7);
        // One random sequence of existing keys; every contender reads a prefix of it.
        var seqIdx = new int[o.NMemory];
        for (int i = 0; i < seqIdx.Length; i++) seqIdx[i] = rng.Next(records.Length);
        var seq = seqIdx.Select(i => records[i].Key).ToArray();
        var seqBytes = seq.Select(k => k.ToArray()).ToArray();

        var contenders = new List<Contender>();
        var loadTimes = new List<string>();
        var cleanup = new List<Func<ValueTask>>();
        var sqliteDir = o.SqliteDir ?? Directory.CreateTempSubdirectory("bouncer-storebench-").FullName;
        bool ownsSqliteDir = o.SqliteDir is null;

        try
        {
            // ---- in memory ----
            var sw = Stopwatch.StartNew();
            var dict = new ConcurrentDictionary<SessionKey, SessionRecord>();
            foreach (var r in records) dict[r.Key] = r;
            var memory = new MemorySessionStore();
            foreach (var r in records) await memory.CreateAsync(r, default);
            await Verify("MemorySessionStore", memory, records);
            loadTimes.Add($"ConcurrentDictionary + MemorySessionStore (CreateAsync) {sw.Elapsed.TotalSeconds:0.0} s");
            contenders.Add(new("ConcurrentDictionary", "memory", true, o.NMemory, true,
                (_, i) => ValueTask.FromResult(dict.TryGetValue(seq[i], out var r) && r is not null)));
            contenders.Add(new("MemorySessionStore", "memory", false, o.NMemory, true, (_, i) => Found(memory.GetAsync(seq[i], default))));

            // ---- SQLite ----
            if (Want("sqlite"))
            {
                sw.Restart();
                var path = Path.Combine(sqliteDir, "sessions.db");
                var store = new SqliteSessionStore(path);
                cleanup.Add(() => { store.Dispose(); return ValueTask.CompletedTask; });
                LoadSqlite(path, records);
                await Verify("SqliteSessionStore", store, records);
                loadTimes.Add($"SQLite (one transaction of prepared inserts, then WAL checkpoint) {sw.Elapsed.TotalSeconds:0.0} s");
                var raw = new (SqliteCommand Cmd, SqliteParameter P)[o.Callers];
                for (int w = 0; w < raw.Length; w++)
                {
                    var conn = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
                    conn.Open();
                    var cmd = conn.CreateCommand();
                    cmd.CommandText = $"""SELECT user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at FROM "{SqliteTable}" WHERE id = $id""";
                    var p = cmd.Parameters.Add("$id", SqliteType.Blob);
                    p.Value = seqBytes[0];
                    cmd.Prepare();
                    raw[w] = (cmd, p);
                    cleanup.Add(() => { cmd.Dispose(); conn.Dispose(); return ValueTask.CompletedTask; });
                }
                contenders.Add(new("raw Microsoft.Data.Sqlite (prepared SELECT)", "sqlite", true, o.NSqlite, false, (w, i) =>
                {
                    var (cmd, p) = raw[w];
                    p.Value = seqBytes[i];
                    using var reader = cmd.ExecuteReader();
                    bool found = reader.Read();
                    if (found) { _ = reader.GetString(0); _ = reader.IsDBNull(1) ? null : reader.GetString(1); _ = reader.IsDBNull(2) ? null : reader.GetString(2); _ = reader.GetInt64(3); _ = reader.GetInt64(4); _ = reader.GetInt64(5); _ = reader.GetInt64(6); }
                    return ValueTask.FromResult(found);
                }));
                contenders.Add(new("SqliteSessionStore", "sqlite", false, o.NSqlite, false, (_, i) => Found(store.GetAsync(seq[i], default))));

                // --sqlite-experiments: one difference between the raw baseline and the store per row (not part of the
                // table of record), to find what bounds the store with many callers.
                if (args.Contains("--sqlite-experiments"))
                {
                    const string Select = $"""SELECT user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at FROM "{SqliteTable}" WHERE id = $id""";
                    SqliteCommand Prepared(string connectionString, bool typed)
                    {
                        var conn = new SqliteConnection(connectionString);
                        conn.Open();
                        using (var pragma = conn.CreateCommand())
                        {
                            pragma.CommandText = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;";
                            pragma.ExecuteNonQuery();
                        }
                        var cmd = conn.CreateCommand();
                        cmd.CommandText = Select;
                        var p = typed ? cmd.Parameters.Add("$id", SqliteType.Blob) : cmd.Parameters.Add(new SqliteParameter { ParameterName = "$id" });
                        p.Value = seqBytes[0];
                        cmd.Prepare();
                        cleanup.Add(() => { cmd.Dispose(); conn.Dispose(); return ValueTask.CompletedTask; });
                        return cmd;
                    }
                    static bool ReadColumns(SqliteCommand cmd)
                    {
                        using var reader = cmd.ExecuteReader();
                        bool found = reader.Read();
                        if (found) { _ = reader.GetString(0); _ = reader.IsDBNull(1) ? null : reader.GetString(1); _ = reader.IsDBNull(2) ? null : reader.GetString(2); _ = reader.GetInt64(3); _ = reader.GetInt64(4); _ = reader.GetInt64(5); _ = reader.GetInt64(6); }
                        return found;
                    }
                    string readWrite = $"Data Source={path};Pooling=False";
                    var rw = Enumerable.Range(0, o.Callers).Select(_ => Prepared(readWrite, true)).ToArray();
                    contenders.Add(new("exp: raw, read-write connection per caller (the store's pragmas)", "sqlite-exp", false, o.NSqlite, false, (w, i) =>
                    {
                        var cmd = rw[w];
                        cmd.Parameters[0].Value = seqBytes[i];
                        return ValueTask.FromResult(ReadColumns(cmd));
                    }));
                    var untyped = Enumerable.Range(0, o.Callers).Select(_ => Prepared(readWrite, false)).ToArray();
                    contenders.Add(new("exp: raw, read-write per caller, parameter without SqliteType", "sqlite-exp", false, o.NSqlite, false, (w, i) =>
                    {
                        var cmd = untyped[w];
                        cmd.Parameters[0].Value = seqBytes[i];
                        return ValueTask.FromResult(ReadColumns(cmd));
                    }));
                    var rec = Enumerable.Range(0, o.Callers).Select(_ => Prepared(readWrite, true)).ToArray();
                    contenders.Add(new("exp: raw, read-write per caller, SessionRecord built", "sqlite-exp", false, o.NSqlite, false, (w, i) =>
                    {
                        var cmd = rec[w];
                        cmd.Parameters[0].Value = seqBytes[i];
                        using var r = cmd.ExecuteReader();
                        if (!r.Read()) return ValueTask.FromResult(false);
                        var record = new SessionRecord
                        {
                            Key = seq[i], UserId = r.GetString(0), Data = r.IsDBNull(1) ? null : r.GetString(1), Client = r.IsDBNull(2) ? null : r.GetString(2),
                            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), LastSeenAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
                            ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), AbsoluteExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)),
                        };
                        return ValueTask.FromResult(record is not null);
                    }));
                    // The same with a LIFO discipline: a ConcurrentBag (thread-local lists: a caller gets back the connection it
                    // returned, its pages and statement still in the CPU's cache) counted apart, and a locked stack.
                    var bag = new ConcurrentBag<SqliteCommand>(Enumerable.Range(0, o.Callers).Select(_ => Prepared(readWrite, true)));
                    contenders.Add(new("exp: raw, read-write from a shared ConcurrentBag, 32 pre-opened", "sqlite-exp", false, o.NSqlite, false, (_, i) =>
                    {
                        if (!bag.TryTake(out var cmd)) throw new InvalidOperationException("bag empty");
                        try
                        {
                            cmd.Parameters[0].Value = seqBytes[i];
                            return ValueTask.FromResult(ReadColumns(cmd));
                        }
                        finally { bag.Add(cmd); }
                    }));
                    // The store's pool before this change: ConcurrentBag.Count asked on every return (it locks every thread's list).
                    var oldBag = new ConcurrentBag<SqliteCommand>(Enumerable.Range(0, 4).Select(_ => Prepared(readWrite, true)));
                    // A connection opened while measuring, as a pool opens one under a burst: no pragmas, not prepared.
                    SqliteCommand OpenedUnderBurst()
                    {
                        var conn = new SqliteConnection(readWrite);
                        conn.Open();
                        var cmd = conn.CreateCommand();
                        cmd.CommandText = Select;
                        cmd.Parameters.Add("$id", SqliteType.Blob);
                        return cmd;
                    }
                    long oldOpens = 0;
                    cleanup.Add(() => { Log($"exp: the old pool: {Interlocked.Read(ref oldOpens):N0} connections opened while measuring"); return ValueTask.CompletedTask; });
                    contenders.Add(new("exp: raw, read-write from the store's old pool (ConcurrentBag, Count asked per return, at most 4 idle)", "sqlite-exp", false, o.NSqlite, false, (_, i) =>
                    {
                        if (!oldBag.TryTake(out var cmd))
                        {
                            Interlocked.Increment(ref oldOpens);
                            cmd = OpenedUnderBurst();
                        }
                        try
                        {
                            cmd.Parameters[0].Value = seqBytes[i];
                            return ValueTask.FromResult(ReadColumns(cmd));
                        }
                        finally
                        {
                            if (oldBag.Count >= 4) { var conn = cmd.Connection; cmd.Dispose(); conn?.Dispose(); }
                            else oldBag.Add(cmd);
                        }
                    }));
                    var stack = new Stack<SqliteCommand>(Enumerable.Range(0, o.Callers).Select(_ => Prepared(readWrite, true)));
                    contenders.Add(new("exp: raw, read-write from a locked stack, 32 pre-opened", "sqlite-exp", false, o.NSqlite, false, (_, i) =>
                    {
                        SqliteCommand cmd;
                        lock (stack) cmd = stack.Pop();
                        try
                        {
                            cmd.Parameters[0].Value = seqBytes[i];
                            return ValueTask.FromResult(ReadColumns(cmd));
                        }
                        finally { lock (stack) stack.Push(cmd); }
                    }));
                    // Shared pools of read-write connections, taken and returned per call as the store does: every
                    // caller's connection pre-opened (no opens while measuring), and capped at 4 idle (opens under a burst).
                    foreach (var (label, cap) in new[] { ("exp: raw, read-write from a shared queue, 32 pre-opened, no cap", int.MaxValue), ("exp: raw, read-write from a shared queue, at most 4 idle (opens counted)", 4) })
                    {
                        var pool = new ConcurrentQueue<SqliteCommand>();
                        int idle = 0;
                        long opens = 0;
                        for (int w = 0; w < o.Callers && w < cap; w++) { pool.Enqueue(Prepared(readWrite, true)); idle++; }
                        cleanup.Add(() =>
                        {
                            Log($"{label}: {Interlocked.Read(ref opens):N0} connections opened while measuring");
                            return ValueTask.CompletedTask;
                        });
                        contenders.Add(new(label, "sqlite-exp", false, o.NSqlite, false, (_, i) =>
                        {
                            SqliteCommand cmd;
                            if (pool.TryDequeue(out var pooled)) { Interlocked.Decrement(ref idle); cmd = pooled; }
                            else
                            {
                                Interlocked.Increment(ref opens);
                                cmd = OpenedUnderBurst();
                            }
                            try
                            {
                                cmd.Parameters[0].Value = seqBytes[i];
                                return ValueTask.FromResult(ReadColumns(cmd));
                            }
                            finally
                            {
                                if (Interlocked.Increment(ref idle) <= cap) pool.Enqueue(cmd);
                                else { Interlocked.Decrement(ref idle); var conn = cmd.Connection; cmd.Dispose(); conn?.Dispose(); }
                            }
                        }));
                    }
                }
            }

            // ---- Redis (and the near cache over it) ----
            if (o.Redis is not null && Want("redis"))
            {
                sw.Restart();
                var config = ConfigurationOptions.Parse(o.Redis);
                config.AbortOnConnectFail = true;
                config.SyncTimeout = config.AsyncTimeout = 30_000;
                var mux = await ConnectionMultiplexer.ConnectAsync(config);
                cleanup.Add(async () => await mux.DisposeAsync());
                var store = new RedisSessionStore(mux, new RedisStoreOptions { KeyPrefix = RedisPrefix });
                await LoadRedis(mux.GetDatabase(), records);
                await Verify("RedisSessionStore", store, records);
                loadTimes.Add($"Redis (pipelined HSET + PEXPIRE per record and ZADD + PEXPIRE per user index, the store's layout) {sw.Elapsed.TotalSeconds:0.0} s");
                var db = mux.GetDatabase();
                var rawKeys = seqBytes.Take(o.NNetwork).Select(b => (RedisKey)RecordKey(b)).ToArray();
                contenders.Add(new("raw StackExchange.Redis (HGETALL)", "redis", true, o.NNetwork, false,
                    async (_, i) => (await db.HashGetAllAsync(rawKeys[i]).ConfigureAwait(false)).Length > 0));
                contenders.Add(new("RedisSessionStore", "redis", false, o.NNetwork, false, (_, i) => Found(store.GetAsync(seq[i], default))));

                // Near cache: warm (every key of the sequence read once), no revocation traffic, listener connected.
                var channel = new InProcessRevocationChannel();
                var listener = new RevocationListener(channel);
                var near = new SessionCache(listener, null, new NearCacheOptions { MaxEntries = o.NMemory * 2, TimeToLive = TimeSpan.FromHours(1) });
                await listener.StartAsync(default);
                cleanup.Add(() => listener.DisposeAsync());
                sw.Restart();
                // Filled as the session engine fills it: a store read, then the cache (a hit is then a dictionary lookup).
                for (int i = 0; i < o.NMemory; i++)
                {
                    if (near.TryGet(seq[i], out _)) continue;
                    var before = near.Evictions;
                    near.Add(await store.GetAsync(seq[i], default) ?? throw new InvalidOperationException("near cache warm-up: key missing"), before);
                }
                if (near.Count != seq.Distinct().Count()) throw new InvalidOperationException($"near cache holds {near.Count}, expected {seq.Distinct().Count()}");
                loadTimes.Add($"near cache warm-up ({near.Count:N0} distinct keys read through it from Redis) {sw.Elapsed.TotalSeconds:0.0} s");
                contenders.Add(new("SessionCache (near cache) over Redis (warm)", "nearcache", false, o.NMemory, true, (_, i) => ValueTask.FromResult(near.TryGet(seq[i], out SessionRecord _))));
            }

            // ---- Redis Cluster (--redis-cluster: the nodes of a cluster; the same layout, each command routed to its slot) ----
            if (o.RedisCluster is not null && Want("redis-cluster"))
            {
                sw.Restart();
                var config = ConfigurationOptions.Parse(o.RedisCluster);
                config.AbortOnConnectFail = true;
                config.SyncTimeout = config.AsyncTimeout = 30_000;
                var mux = await ConnectionMultiplexer.ConnectAsync(config);
                cleanup.Add(async () => await mux.DisposeAsync());
                var masters = mux.GetServers().Count(s => s.ServerType == ServerType.Cluster && !s.IsReplica);
                if (masters < 2) throw new InvalidOperationException($"--redis-cluster: {masters} cluster master(s) found at {o.RedisCluster}");
                var store = new RedisSessionStore(mux, new RedisStoreOptions { KeyPrefix = RedisPrefix });
                await LoadRedis(mux.GetDatabase(), records);
                await Verify("RedisSessionStore on Redis Cluster", store, records);
                loadTimes.Add($"Redis Cluster ({masters} masters; the same pipelined layout, each command sent to its slot's master) {sw.Elapsed.TotalSeconds:0.0} s");
                var db = mux.GetDatabase();
                var rawKeys = seqBytes.Take(o.NNetwork).Select(b => (RedisKey)RecordKey(b)).ToArray();
                contenders.Add(new($"raw StackExchange.Redis (HGETALL) on Redis Cluster ({masters} masters)", "redis-cluster", true, o.NNetwork, false,
                    async (_, i) => (await db.HashGetAllAsync(rawKeys[i]).ConfigureAwait(false)).Length > 0));
                contenders.Add(new($"RedisSessionStore on Redis Cluster ({masters} masters)", "redis-cluster", false, o.NNetwork, false, (_, i) => Found(store.GetAsync(seq[i], default))));
            }

            // ---- PostgreSQL ----
            if (o.Postgres is not null && Want("postgres"))
            {
                sw.Restart();
                var csb = new NpgsqlConnectionStringBuilder(o.Postgres) { MaxPoolSize = o.Callers + 8 };
                var ds = NpgsqlDataSource.Create(csb.ConnectionString);
                var rawDs = NpgsqlDataSource.Create(csb.ConnectionString);
                cleanup.Add(() => ds.DisposeAsync());
                cleanup.Add(() => rawDs.DisposeAsync());
                var options = new PostgresSessionStoreOptions { Table = PgTable };
                // The store as most apps build it (from a connection string: it builds its own data source), and
                // over a caller's data source with Npgsql's default settings.
                var store = new PostgresSessionStore(csb.ConnectionString, options);
                cleanup.Add(() => store.DisposeAsync());
                var storeOverDs = new PostgresSessionStore(ds, options);
                await LoadPostgres(ds, storeOverDs, options, records);
                await Verify("PostgresSessionStore", store, records);
                loadTimes.Add($"PostgreSQL (binary COPY, then indexes, VACUUM ANALYZE) {sw.Elapsed.TotalSeconds:0.0} s");
                var raw = new (NpgsqlCommand Cmd, NpgsqlParameter<byte[]> P)[o.Callers];
                for (int w = 0; w < raw.Length; w++)
                {
                    var conn = await rawDs.OpenConnectionAsync();
                    var cmd = new NpgsqlCommand($"SELECT user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at FROM \"public\".\"{PgTable}\" WHERE id = $1", conn);
                    var p = new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = seqBytes[0] };
                    cmd.Parameters.Add(p);
                    await cmd.PrepareAsync();
                    raw[w] = (cmd, p);
                    cleanup.Add(async () => { await cmd.DisposeAsync(); await conn.DisposeAsync(); });
                }
                contenders.Add(new("raw Npgsql (prepared SELECT)", "postgres", true, o.NNetwork, false, async (w, i) =>
                {
                    var (cmd, p) = raw[w];
                    p.TypedValue = seqBytes[i];
                    await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
                    bool found = await reader.ReadAsync().ConfigureAwait(false);
                    if (found)
                    {
                        _ = reader.GetString(0); _ = reader.IsDBNull(1) ? null : reader.GetString(1); _ = reader.IsDBNull(2) ? null : reader.GetString(2);
                        _ = reader.GetFieldValue<DateTimeOffset>(3); _ = reader.GetFieldValue<DateTimeOffset>(4);
                        _ = reader.GetFieldValue<DateTimeOffset>(5); _ = reader.GetFieldValue<DateTimeOffset>(6);
                    }
                    return found;
                }));
                contenders.Add(new("PostgresSessionStore", "postgres", false, o.NNetwork, false, (_, i) => Found(store.GetAsync(seq[i], default))));
                contenders.Add(new("PostgresSessionStore over a caller's data source (Npgsql defaults: reset on close)", "postgres", false, o.NNetwork, false,
                    (_, i) => Found(storeOverDs.GetAsync(seq[i], default))));

                // Diagnostics: the store's per-call pattern (pooled open, new command, PrepareAsync, close) on raw
                // Npgsql, with and without the pool's connection reset, to show where the store's time goes.
                var select = $"SELECT user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at FROM \"public\".\"{PgTable}\" WHERE id = $1";
                foreach (var (label, noReset, prepare) in new[]
                {
                    ("diag: Npgsql pooled open + PrepareAsync + SELECT + close per call (the store's pattern)", false, true),
                    ("diag: same, No Reset On Close=true", true, true),
                    ("diag: same, No Reset On Close=true, no PrepareAsync (unprepared)", true, false),
                    ("diag: pooled open + close only, no query", false, false),
                })
                {
                    var dcsb = new NpgsqlConnectionStringBuilder(csb.ConnectionString) { NoResetOnClose = noReset };
                    var dds = NpgsqlDataSource.Create(dcsb.ConnectionString);
                    cleanup.Add(() => dds.DisposeAsync());
                    contenders.Add(new(label, "postgres-diag", false, o.NNetwork, false, async (_, i) =>
                    {
                        await using var conn = await dds.OpenConnectionAsync().ConfigureAwait(false);
                        if (label.Contains("no query", StringComparison.Ordinal)) return true;
                        await using var cmd = new NpgsqlCommand(select, conn);
                        cmd.Parameters.Add(new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = seqBytes[i] });
                        if (prepare) await cmd.PrepareAsync().ConfigureAwait(false);
                        await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
                        return await reader.ReadAsync().ConfigureAwait(false);
                    }));
                }
                // --pg-experiments: candidate fixes for the store, side by side (not part of the table of record).
                if (args.Contains("--pg-experiments"))
                {
                    NpgsqlDataSource Ds(Action<NpgsqlConnectionStringBuilder> edit)
                    {
                        var b = new NpgsqlConnectionStringBuilder(csb.ConnectionString);
                        edit(b);
                        var d = NpgsqlDataSource.Create(b.ConnectionString);
                        cleanup.Add(() => d.DisposeAsync());
                        return d;
                    }
                    static async ValueTask<bool> ReadOne(NpgsqlCommand cmd)
                    {
                        await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
                        return await reader.ReadAsync().ConfigureAwait(false);
                    }
                    NpgsqlParameter P(int i) => new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = seqBytes[i] };

                    var noReset = Ds(b => b.NoResetOnClose = true);
                    var storeNoReset = new PostgresSessionStore(noReset, options);
                    contenders.Add(new("exp: store as is, No Reset On Close=true", "postgres-exp", false, o.NNetwork, false, (_, i) => Found(storeNoReset.GetAsync(seq[i], default))));

                    var auto = Ds(b => { b.MaxAutoPrepare = 20; b.AutoPrepareMinUsages = 1; });
                    contenders.Add(new("exp: open + cmd, auto-prepare (20/1), reset on", "postgres-exp", false, o.NNetwork, false, async (_, i) =>
                    {
                        await using var conn = await auto.OpenConnectionAsync().ConfigureAwait(false);
                        await using var cmd = new NpgsqlCommand(select, conn);
                        cmd.Parameters.Add(P(i));
                        return await ReadOne(cmd).ConfigureAwait(false);
                    }));
                    var autoNoReset = Ds(b => { b.MaxAutoPrepare = 20; b.AutoPrepareMinUsages = 1; b.NoResetOnClose = true; });
                    contenders.Add(new("exp: open + cmd, auto-prepare (20/1), No Reset On Close", "postgres-exp", false, o.NNetwork, false, async (_, i) =>
                    {
                        await using var conn = await autoNoReset.OpenConnectionAsync().ConfigureAwait(false);
                        await using var cmd = new NpgsqlCommand(select, conn);
                        cmd.Parameters.Add(P(i));
                        return await ReadOne(cmd).ConfigureAwait(false);
                    }));
                    var autoDs = Ds(b => { b.MaxAutoPrepare = 20; b.AutoPrepareMinUsages = 1; });
                    contenders.Add(new("exp: dataSource.CreateCommand, auto-prepare (20/1), reset on", "postgres-exp", false, o.NNetwork, false, async (_, i) =>
                    {
                        await using var cmd = autoDs.CreateCommand(select);
                        cmd.Parameters.Add(P(i));
                        return await ReadOne(cmd).ConfigureAwait(false);
                    }));
                    var autoDsNoReset = Ds(b => { b.MaxAutoPrepare = 20; b.AutoPrepareMinUsages = 1; b.NoResetOnClose = true; });
                    contenders.Add(new("exp: dataSource.CreateCommand, auto-prepare (20/1), No Reset On Close", "postgres-exp", false, o.NNetwork, false, async (_, i) =>
                    {
                        await using var cmd = autoDsNoReset.CreateCommand(select);
                        cmd.Parameters.Add(P(i));
                        return await ReadOne(cmd).ConfigureAwait(false);
                    }));
                    var one = await rawDs.OpenConnectionAsync();
                    cleanup.Add(() => one.DisposeAsync());
                    var oneLock = new SemaphoreSlim(1);
                    contenders.Add(new("exp: one open connection, new cmd + PrepareAsync per call", "postgres-exp", false, o.NNetwork, false, async (_, i) =>
                    {
                        await oneLock.WaitAsync().ConfigureAwait(false);
                        try
                        {
                            await using var cmd = new NpgsqlCommand(select, one);
                            cmd.Parameters.Add(P(i));
                            await cmd.PrepareAsync().ConfigureAwait(false);
                            return await ReadOne(cmd).ConfigureAwait(false);
                        }
                        finally { oneLock.Release(); }
                    }));
                    var pool1 = Ds(b => { b.NoResetOnClose = true; b.MaxPoolSize = 1; });
                    var storePool1 = new PostgresSessionStore(pool1, options);
                    contenders.Add(new("exp: store as is, No Reset On Close, Max Pool Size=1", "postgres-exp", false, o.NNetwork, false, (_, i) => Found(storePool1.GetAsync(seq[i], default))));
                    var syncNoReset = Ds(b => b.NoResetOnClose = true);
                    contenders.Add(new("exp: sync open + Prepare + cmd, No Reset On Close", "postgres-exp", false, o.NNetwork, false, (_, i) =>
                    {
                        using var conn = syncNoReset.OpenConnection();
                        using var cmd = new NpgsqlCommand(select, conn);
                        cmd.Parameters.Add(P(i));
                        cmd.Prepare();
                        using var reader = cmd.ExecuteReader();
                        return ValueTask.FromResult(reader.Read());
                    }));
                }
            }

            Log($"loaded in {total.Elapsed.TotalSeconds:0} s; measuring {contenders.Count} contenders, {o.Rounds} rounds");
            var samples = await Measure(contenders, o);
            string table = Render(contenders, samples, o, loadTimes, total.Elapsed);
            Console.WriteLine(table);
            if (o.Out is not null) File.WriteAllText(o.Out, table);
            Log($"done in {total.Elapsed.TotalSeconds:0} s");
            return 0;
        }
        finally
        {
            for (int i = cleanup.Count - 1; i >= 0; i--) await cleanup[i]();
            SqliteConnection.ClearAllPools();
            if (ownsSqliteDir) Directory.Delete(sqliteDir, recursive: true);
        }
    }

    private static ValueTask<bool> Found(ValueTask<SessionRecord?> get)
    {
        return get.IsCompletedSuccessfully ? ValueTask.FromResult(get.Result is not null) : Slow(get);
        static async ValueTask<bool> Slow(ValueTask<SessionRecord?> get) => await get.ConfigureAwait(false) is not null;
    }

    // ---- data ----

    private static SessionRecord[] Generate(int count)
    {
        var rng = new Random(1);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var users = new string[Users];
        for (int u = 0; u < users.Length; u++) users[u] = $"user-{u:D7}@example.com";
        var records = new SessionRecord[count];
        Span<byte> digest = stackalloc byte[SessionKey.Size];
        for (int i = 0; i < count; i++)
        {
            rng.NextBytes(digest);
            var created = now.AddMilliseconds(-rng.Next(3_600_000));
            records[i] = new SessionRecord
            {
                Key = new SessionKey(digest), UserId = users[i % Users], Data = i % 2 == 0 ? Data : null, Client = Client,
                CreatedAt = created, LastSeenAt = created.AddSeconds(30), ExpiresAt = now.AddDays(1).AddMilliseconds(i % 1000),
                AbsoluteExpiresAt = created.AddDays(7),
            };
        }
        return records;
    }

    // Every loaded store must hand back what was loaded, through its own API: the bulk load matches its layout.
    private static async Task Verify(string name, ISessionStore store, SessionRecord[] records)
    {
        var rng = new Random(3);
        for (int s = 0; s < 1000; s++)
        {
            var expected = records[rng.Next(records.Length)];
            var got = await store.GetAsync(expected.Key, default);
            if (!expected.Equals(got)) throw new InvalidOperationException($"{name}: loaded record {expected.Key} reads back as {got}");
        }
        var user = records[0].UserId;
        var listed = await store.ListUserAsync(user, default);
        int want = records.Count(r => r.UserId == user);
        if (listed.Count != want) throw new InvalidOperationException($"{name}: ListUserAsync gave {listed.Count} records, expected {want}");
        Log($"{name}: 1,000 sampled records and one user list read back intact");
    }

    private static void LoadSqlite(string path, SessionRecord[] records)
    {
        using var conn = new SqliteConnection($"Data Source={path};Pooling=False");
        conn.Open();
        using (var pragma = conn.CreateCommand())
        {
            pragma.CommandText = "PRAGMA cache_size=-262144;";
            pragma.ExecuteNonQuery();
        }
        using (var tx = conn.BeginTransaction())
        {
            using var cmd = conn.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = $"""INSERT INTO "{SqliteTable}" (id, user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at) VALUES ($0, $1, $2, $3, $4, $5, $6, $7)""";
            var p = new SqliteParameter[8];
            for (int i = 0; i < p.Length; i++) p[i] = cmd.Parameters.Add("$" + i, i == 0 ? SqliteType.Blob : i <= 3 ? SqliteType.Text : SqliteType.Integer);
            cmd.Prepare();
            foreach (var r in records)
            {
                p[0].Value = r.Key.ToArray();
                p[1].Value = r.UserId;
                p[2].Value = (object?)r.Data ?? DBNull.Value;
                p[3].Value = (object?)r.Client ?? DBNull.Value;
                p[4].Value = r.CreatedAt.ToUnixTimeMilliseconds();
                p[5].Value = r.LastSeenAt.ToUnixTimeMilliseconds();
                p[6].Value = r.ExpiresAt.ToUnixTimeMilliseconds();
                p[7].Value = r.AbsoluteExpiresAt.ToUnixTimeMilliseconds();
                cmd.ExecuteNonQuery();
            }
            tx.Commit();
        }
        using (var ck = conn.CreateCommand())
        {
            ck.CommandText = "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;";
            ck.ExecuteNonQuery();
        }
    }

    private static string RecordKey(byte[] key) => $"{RedisPrefix}s:{{{Base64Url.EncodeToString(key)}}}";

    private static string IndexKey(string userId) => $"{RedisPrefix}u:{{{Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(userId)))}}}";

    private static string Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    // The exact layout RedisSessionStore writes (docs/redis.md): a hash per record with its TTL (ExpiresAt - now +
    // the default 5 min slack), and a sorted set per user of raw 32-byte keys scored by ExpiresAt with a TTL.
    private static async Task LoadRedis(IDatabase db, SessionRecord[] records)
    {
        var slack = new RedisStoreOptions().TtlSlack;
        const int batch = 5_000;
        var pending = new List<Task>(batch * 4);
        for (int start = 0; start < records.Length; start += batch)
        {
            pending.Clear();
            var now = DateTimeOffset.UtcNow;
            for (int i = start; i < Math.Min(records.Length, start + batch); i++)
            {
                var r = records[i];
                var bytes = r.Key.ToArray();
                var key = RecordKey(bytes);
                var fields = new List<HashEntry>(7) { new("u", r.UserId) };
                if (r.Data is not null) fields.Add(new("d", r.Data));
                if (r.Client is not null) fields.Add(new("c", r.Client));
                fields.Add(new("ca", Ms(r.CreatedAt)));
                fields.Add(new("ls", Ms(r.LastSeenAt)));
                fields.Add(new("ea", Ms(r.ExpiresAt)));
                fields.Add(new("aa", Ms(r.AbsoluteExpiresAt)));
                var ttl = r.ExpiresAt - now + slack;
                var index = IndexKey(r.UserId);
                pending.Add(db.HashSetAsync(key, [.. fields]));
                pending.Add(db.KeyExpireAsync(key, ttl));
                pending.Add(db.SortedSetAddAsync(index, bytes, r.ExpiresAt.ToUnixTimeMilliseconds()));
                pending.Add(db.KeyExpireAsync(index, ttl + TimeSpan.FromSeconds(1)));
            }
            await Task.WhenAll(pending);
        }
    }

    private static async Task LoadPostgres(NpgsqlDataSource ds, PostgresSessionStore store, PostgresSessionStoreOptions options, SessionRecord[] records)
    {
        var table = $"\"{options.Schema}\".\"{options.Table}\"";
        await using var conn = await ds.OpenConnectionAsync();
        async Task Exec(string sql)
        {
            await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 600 };
            await cmd.ExecuteNonQueryAsync();
        }
        await Exec($"DROP TABLE IF EXISTS {table}");
        // The store's own DDL, minus its secondary indexes during the load (re-created by EnsureSchemaAsync after).
        await store.EnsureSchemaAsync();
        await Exec($"DROP INDEX \"{options.Schema}\".\"{options.Table}_expires_at_idx\"; DROP INDEX \"{options.Schema}\".\"{options.Table}_user_id_idx\"");
        await using (var copy = await conn.BeginBinaryImportAsync(
            $"COPY {table} (id, user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var r in records)
            {
                copy.StartRow();
                copy.Write(r.Key.ToArray(), NpgsqlDbType.Bytea);
                copy.Write(r.UserId, NpgsqlDbType.Text);
                if (r.Data is null) copy.WriteNull(); else copy.Write(r.Data, NpgsqlDbType.Json);
                if (r.Client is null) copy.WriteNull(); else copy.Write(r.Client, NpgsqlDbType.Text);
                copy.Write(r.CreatedAt, NpgsqlDbType.TimestampTz);
                copy.Write(r.LastSeenAt, NpgsqlDbType.TimestampTz);
                copy.Write(r.ExpiresAt, NpgsqlDbType.TimestampTz);
                copy.Write(r.AbsoluteExpiresAt, NpgsqlDbType.TimestampTz);
            }
            await copy.CompleteAsync();
        }
        await store.EnsureSchemaAsync();
        await Exec($"VACUUM ANALYZE {table}");
    }

    // ---- harness ----

    private static async Task<Dictionary<string, Samples>> Measure(List<Contender> contenders, Options o)
    {
        foreach (var c in contenders)
        {
            // Warm-up: JIT tiers, connection pools, prepared statements on every connection, page caches.
            await Latency(c, Math.Min(c.N, 5_000));
            await Throughput(c, o.Callers, TimeSpan.FromSeconds(Math.Min(1, o.Slice.TotalSeconds)));
            Log($"warm: {c.Name}");
        }
        var samples = contenders.ToDictionary(c => c.Name, _ => new Samples(o.Rounds));
        for (int r = 0; r < o.Rounds; r++)
        {
            for (int k = 0; k < contenders.Count; k++)
            {
                var c = contenders[(k + r) % contenders.Count];   // rotate the order each round
                var (p50, p99) = await Latency(c, c.N);
                var s = samples[c.Name];
                s.P50[r] = p50;
                s.P99[r] = p99;
                s.Throughput[r] = await Throughput(c, o.Callers, o.Slice);
            }
            Log($"round {r + 1}/{o.Rounds} done");
        }
        return samples;
    }

    // One caller, the first n keys of the sequence in order; per-lookup Stopwatch timestamps.
    private static async Task<(double P50, double P99)> Latency(Contender c, int n)
    {
        var ticks = new long[n];
        for (int i = 0; i < n; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var op = c.Op(0, i);
            bool found = op.IsCompletedSuccessfully ? op.Result : await op.ConfigureAwait(false);
            ticks[i] = Stopwatch.GetTimestamp() - t0;
            if (!found) throw new InvalidOperationException($"{c.Name}: existing key {i} not found");
        }
        Array.Sort(ticks);
        double Us(long t) => t * 1_000_000.0 / Stopwatch.Frequency;
        return (Us(ticks[n / 2]), Us(ticks[(int)(n * 0.99)]));
    }

    // Many callers for a fixed time, each walking its own stretch of the sequence; lookups per second.
    private static async Task<double> Throughput(Contender c, int callers, TimeSpan slice)
    {
        long total = 0;
        long stopAt = 0;
        int mask = c.InMemory ? 255 : 0;   // read the clock less often when a lookup costs tens of ns
        using var start = new ManualResetEventSlim();
        var workers = Enumerable.Range(0, callers).Select(w => Task.Run(async () =>
        {
            start.Wait();
            int n = c.N, i = (int)((long)w * n / callers);
            long ops = 0;
            while ((ops & mask) != 0 || Stopwatch.GetTimestamp() < stopAt)
            {
                var op = c.Op(w, i);
                bool found = op.IsCompletedSuccessfully ? op.Result : await op.ConfigureAwait(false);
                if (!found) throw new InvalidOperationException($"{c.Name}: existing key {i} not found");
                if (++i == n) i = 0;
                ops++;
            }
            Interlocked.Add(ref total, ops);
        })).ToArray();
        await Task.Delay(50);   // let every worker reach the gate
        var sw = Stopwatch.StartNew();
        stopAt = Stopwatch.GetTimestamp() + (long)(slice.TotalSeconds * Stopwatch.Frequency);
        start.Set();
        await Task.WhenAll(workers);
        return total / sw.Elapsed.TotalSeconds;
    }

    // ---- report ----

    private static double Median(double[] xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static string Render(List<Contender> contenders, Dictionary<string, Samples> samples, Options o, List<string> loads, TimeSpan elapsed)
    {
        string cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
            : "?";
        var byName = contenders.ToDictionary(c => c.Name);
        string? BaselineOf(Contender c) => c.Group switch
        {
            "memory" => null,
            "nearcache" => "RedisSessionStore",
            "postgres-diag" or "postgres-exp" => "raw Npgsql (prepared SELECT)",
            "sqlite-exp" => "raw Microsoft.Data.Sqlite (prepared SELECT)",
            _ => contenders.FirstOrDefault(b => b.Group == c.Group && b.IsBaseline && b != c)?.Name,
        };
        var dictS = samples.GetValueOrDefault("ConcurrentDictionary");
        var sb = new StringBuilder();
        sb.AppendLine($"# Session-store benchmark: get-by-id over {o.Sessions:N0} sessions");
        sb.AppendLine();
        sb.AppendLine($"- Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, " +
                      $"{Environment.ProcessorCount} cores (`nproc`), CPU: {cpu}, {RuntimeInformation.ProcessArchitecture}. Total run {elapsed.TotalMinutes:0.0} min.");
        sb.AppendLine($"- {o.Sessions:N0} sessions loaded into every store (250,000 users x 4 sessions, half with data). Lookups: random existing keys, " +
                      "one fixed sequence (seed 7) shared by a store and its raw baseline.");
        sb.AppendLine($"- Latency: 1 caller, N sequential lookups (N per row), per-lookup Stopwatch timestamps; p50/p99 in µs. " +
                      $"Throughput: {o.Callers} concurrent callers for {o.Slice.TotalSeconds:0.#} s; lookups/s.");
        sb.AppendLine($"- Harness: warm-up per contender, then {o.Rounds} interleaved rounds (contender order rotated each round); every figure is the " +
                      "median over rounds (throughput also shows [min - max]). Redis and PostgreSQL on loopback on the same 2 cores as the client.");
        sb.AppendLine("- Ratios: p50 ratio = this p50 / baseline p50 (above 1 = slower); throughput ratio = this / baseline (below 1 = slower). " +
                      "Baseline of a store = its raw driver call; of the near cache = the plain RedisSessionStore lookup.");
        sb.AppendLine();
        sb.AppendLine("| store | sessions loaded | N (latency) | p50 µs | p99 µs | lookups/s (32 callers) | vs raw driver: p50 / lookups/s | vs ConcurrentDictionary: p50 / lookups/s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var c in contenders)
        {
            var s = samples[c.Name];
            double p50 = Median(s.P50), p99 = Median(s.P99), tp = Median(s.Throughput);
            string vsRaw = c.Name.Contains("no query", StringComparison.Ordinal) ? "-"
                : BaselineOf(c) is { } b && samples.TryGetValue(b, out var bs)
                ? $"{p50 / Median(bs.P50):0.00}x / {tp / Median(bs.Throughput):0.00}x" + (c.Group == "nearcache" ? " (vs RedisSessionStore)" : "")
                : c.IsBaseline ? "(baseline)" : "-";
            string vsDict = dictS is null ? "n/a" : c.Name == "ConcurrentDictionary" ? "(baseline)"
                : $"{p50 / Median(dictS.P50):0.0}x / {tp / Median(dictS.Throughput):0.0000}x";
            sb.AppendLine($"| {c.Name} | {o.Sessions:N0} | {c.N:N0} | {Fmt(p50)} | {Fmt(p99)} | {tp:N0} [{s.Throughput.Min():N0} - {s.Throughput.Max():N0}] | {vsRaw} | {vsDict} |");
        }
        sb.AppendLine();
        sb.AppendLine("Load (bulk paths, verified afterwards: 1,000 sampled records and one user's list read back through each store's own API):");
        sb.AppendLine();
        foreach (var l in loads) sb.AppendLine($"- {l}");
        return sb.ToString();
    }

    private static string Fmt(double us) => us < 10 ? us.ToString("0.00", CultureInfo.InvariantCulture) : us.ToString("N0", CultureInfo.InvariantCulture);

    private static void Log(string message) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");
}
