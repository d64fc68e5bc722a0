using System.Diagnostics;
using System.Text;
using Bouncer.Sessions;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;
using StackExchange.Redis;

namespace Bouncer.Bench;

/// <summary>
/// Sweep throughput per store: N expired sessions (default 1,000,000) beside 100 live ones, swept by
/// <see cref="SessionManager.SweepAsync"/> in batches of 1,000, while one reader keeps looking up the live
/// sessions; lookup p50/p99 before and during the sweep.
/// </summary>
internal static class SweepBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Arg(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        var count = int.Parse(Arg("--sessions") ?? "1000000");
        var outPath = Arg("--out");
        var rows = new List<string>();
        var past = new FixedClock(DateTimeOffset.UtcNow.AddDays(-1));

        rows.Add(await MeasureAsync("memory", count, () =>
        {
            var store = new MemorySessionStore();
            return Task.FromResult<(ISessionStore, ISessionStore)>((store, store));
        }, async (store, n) =>
        {
            var seeding = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), past);
            await Parallel.ForAsync(0, n, async (i, ct) => await seeding.CreateAsync("old" + (i % 1000), ct));
        }));

        var dir = Directory.CreateTempSubdirectory("bouncer-sweep-bench-");
        var sqlitePath = Path.Combine(dir.FullName, "sweep.db");
        rows.Add(await MeasureAsync("SQLite (WAL, synchronous=FULL)", count, () =>
        {
            var store = new SqliteSessionStore(sqlitePath);
            return Task.FromResult<(ISessionStore, ISessionStore)>((store, store));
        }, (_, n) =>
        {
            using var c = new SqliteConnection($"Data Source={sqlitePath};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            var t = past.GetUtcNow().ToUnixTimeMilliseconds();
            cmd.CommandText = $"""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
                INSERT INTO bouncer_sessions (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at)
                SELECT randomblob(32), 'old' || (i % 1000), {t}, {t}, {t}, {t} FROM n
                """;
            cmd.ExecuteNonQuery();
            return Task.CompletedTask;
        }));

        if (Arg("--redis") is { } redis)
        {
            var mux = await ConnectionMultiplexer.ConnectAsync(redis);
            var prefix = $"sweep{Environment.ProcessId}:";
            rows.Add(await MeasureAsync("Redis (expiry index)", count, () =>
            {
                var store = new RedisSessionStore(mux, new RedisStoreOptions { KeyPrefix = prefix });
                // Written as of a day ago: their TTL (as of then) keeps them in Redis, their ExpiresAt is past.
                var seeder = new RedisSessionStore(mux, new RedisStoreOptions { KeyPrefix = prefix, TimeProvider = past, TtlSlack = TimeSpan.FromDays(2) });
                return Task.FromResult<(ISessionStore, ISessionStore)>((store, seeder));
            }, async (seeder, n) =>
            {
                var seeding = new SessionManager(seeder, new Bouncer.Revocation.InProcessRevocationChannel(), past);
                await Parallel.ForAsync(0, n, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, ct) => await seeding.CreateAsync("old" + (i % 1000), ct));
            }));
        }

        if (Arg("--postgres") is { } postgres)
        {
            var schema = $"sweep{Environment.ProcessId}";
            var source = NpgsqlDataSource.Create(postgres);
            rows.Add(await MeasureAsync("PostgreSQL", count, async () =>
            {
                var options = new PostgresSessionStoreOptions { Schema = schema };
                await using (var c = await source.OpenConnectionAsync())
                await using (var cmd = new NpgsqlCommand($"CREATE SCHEMA IF NOT EXISTS {schema}; " + PostgresSessionStore.SchemaSql(options), c))
                    await cmd.ExecuteNonQueryAsync();
                var store = new PostgresSessionStore(source, options);
                return (store, store);
            }, async (_, n) =>
            {
                await using var c = await source.OpenConnectionAsync();
                await using var cmd = new NpgsqlCommand($"""
                    INSERT INTO {schema}.bouncer_sessions (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at)
                    SELECT sha256(i::text::bytea), 'old' || (i % 1000), now() - interval '1 day', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
                    FROM generate_series(1, {n}) i
                    """, c) { CommandTimeout = 600 };
                await cmd.ExecuteNonQueryAsync();
                await using var analyze = new NpgsqlCommand($"VACUUM ANALYZE {schema}.bouncer_sessions", c) { CommandTimeout = 600 };
                await analyze.ExecuteNonQueryAsync();
            }));
        }

        var text = new StringBuilder();
        text.AppendLine($"| store | expired | seed s | sweep s | swept/s | left | lookup p50 µs before | p99 before | p50 during | p99 during | lookup misses |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows) text.AppendLine(r);
        Console.WriteLine(text);
        if (outPath is not null) await File.WriteAllTextAsync(outPath, text.ToString());
        dir.Delete(recursive: true);
        return 0;
    }

    private static async Task<string> MeasureAsync(string name, int count, Func<Task<(ISessionStore Store, ISessionStore Seeder)>> open,
        Func<ISessionStore, int, Task> seed)
    {
        var (store, seeder) = await open();
        var seedStarted = Stopwatch.GetTimestamp();
        await seed(seeder, count);
        var seedSeconds = Stopwatch.GetElapsedTime(seedStarted).TotalSeconds;
        Console.Error.WriteLine($"{name}: seeded {count} in {seedSeconds:0.0} s");
        var sessions = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), TimeProvider.System,
            new SessionOptions { SweepBatchSize = 1000, TouchInterval = TimeSpan.FromHours(1), IdleTimeout = TimeSpan.FromHours(2), AbsoluteTimeout = TimeSpan.FromHours(3) });
        var live = new List<string>();
        for (var i = 0; i < 100; i++) live.Add((await sessions.CreateAsync("live" + i, default)).Id);

        var before = new List<double>();
        var during = new List<double>();
        var misses = 0;
        var phase = before;
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var id in live)
                {
                    var t = Stopwatch.GetTimestamp();
                    if (await sessions.GetAsync(id, default) is null) misses++;
                    Volatile.Read(ref phase).Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
                }
            }
        });
        await Task.Delay(TimeSpan.FromSeconds(3));
        Volatile.Write(ref phase, during);
        await Task.Delay(50);
        var started = Stopwatch.GetTimestamp();
        var swept = await sessions.SweepAsync(null, default);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        stop.Cancel();
        await reader;
        var left = await store.SweepAsync(DateTimeOffset.UtcNow, 1000, default);
        before.Sort();
        during.Sort();
        double P(List<double> s, double q) => s.Count == 0 ? double.NaN : s[Math.Min(s.Count - 1, (int)(s.Count * q))];
        Console.Error.WriteLine($"{name}: swept {swept} in {seconds:0.0} s");
        if (store is IDisposable d) d.Dispose();
        return $"| {name} | {swept:N0} | {seedSeconds:0.0} | {seconds:0.0} | {swept / seconds:N0} | {left} | {P(before, 0.5):0} | {P(before, 0.99):0} | {P(during, 0.5):0} | {P(during, 0.99):0} | {misses} |";
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
