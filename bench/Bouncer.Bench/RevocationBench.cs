using System.Diagnostics;
using System.Text;
using Bouncer.Revocation;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Bouncer.Tokens;
using Npgsql;
using StackExchange.Redis;

namespace Bouncer.Bench;

/// <summary>
/// Revocation propagation (publish on instance A until both B and C have applied it, each instance its own
/// connection) per transport, p50/p99; and the cost the revocation check adds to a verified HS256 token.
/// </summary>
internal static class RevocationBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Arg(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        var count = int.Parse(Arg("--count") ?? "1000");
        var outPath = Arg("--out");
        var rows = new List<string>();

        rows.Add(await PropagationAsync("in-process", count, () =>
        {
            var shared = new InProcessRevocationChannel();
            return Task.FromResult<IRevocationChannel[]>([shared, shared, shared]);
        }));

        var sqlitePath = Path.Combine(Path.GetTempPath(), $"bouncer-revocation-bench-{Environment.ProcessId}.db");
        var sqliteChannels = new List<SqliteRevocationChannel>();
        rows.Add(await PropagationAsync("SQLite (3 handles on one file: signal file watched, 250 ms poll behind it)", Math.Min(count, 200), () =>
        {
            for (var i = 0; i < 3; i++) sqliteChannels.Add(new SqliteRevocationChannel(sqlitePath));
            return Task.FromResult<IRevocationChannel[]>([.. sqliteChannels]);
        }));

        if (Arg("--redis") is { } redis)
        {
            var prefix = $"bench{Environment.ProcessId}:";
            rows.Add(await PropagationAsync("Redis pub/sub", count, async () =>
            {
                var channels = new IRevocationChannel[3];
                for (var i = 0; i < 3; i++)
                    channels[i] = new RedisRevocationChannel(await ConnectionMultiplexer.ConnectAsync(redis), new RedisStoreOptions { KeyPrefix = prefix });
                return channels;
            }));
        }

        if (Arg("--redis-cluster") is { } cluster)
        {
            // The nodes of a cluster: the channel pushes with SPUBLISH on the log's own slot (sharded pub/sub).
            var prefix = $"bench{Environment.ProcessId}c:";
            rows.Add(await PropagationAsync("Redis Cluster sharded pub/sub (3 masters)", count, async () =>
            {
                var channels = new IRevocationChannel[3];
                for (var i = 0; i < 3; i++)
                {
                    var mux = await ConnectionMultiplexer.ConnectAsync(cluster);
                    if (!mux.GetServers().Any(s => s.ServerType == ServerType.Cluster)) throw new InvalidOperationException($"--redis-cluster: {cluster} is not a Redis Cluster");
                    channels[i] = new RedisRevocationChannel(mux, new RedisStoreOptions { KeyPrefix = prefix });
                }
                return channels;
            }));
        }

        if (Arg("--postgres") is { } postgres)
        {
            rows.Add(await PropagationAsync("PostgreSQL LISTEN/NOTIFY", count, async () =>
            {
                var channels = new IRevocationChannel[3];
                var options = new PostgresStoreOptions { Schema = $"bench{Environment.ProcessId}" };
                for (var i = 0; i < 3; i++)
                {
                    var channel = new PostgresRevocationChannel(NpgsqlDataSource.Create(postgres), options);
                    if (i == 0) await channel.EnsureSchemaAsync(default);
                    channels[i] = channel;
                }
                return channels;
            }));
        }

        var check = CheckCost();
        var text = new StringBuilder();
        text.AppendLine("# Revocation benchmark").AppendLine();
        text.AppendLine($"{Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}. `bench/run-revocation-bench.sh`; private redis-server and PostgreSQL on loopback.").AppendLine();
        text.AppendLine("## Propagation: publish on instance A until instances B and C both refuse").AppendLine();
        text.AppendLine("Each instance has its own connection and its own `RevocationListener`; one revocation at a time, timed from before the publish until both B and C have applied it (the later of the two).").AppendLine();
        text.AppendLine("The last two columns are what the engine's histogram `bouncer.revocation.propagation` recorded on B and C for the same revocations (from the announcement's `At`, taken just before the publish, to applied there; one sample per instance, so twice as many; wall-clock milliseconds).").AppendLine();
        text.AppendLine("| transport | revocations | p50 ms | p99 ms | max ms | metric p50 ms | metric p99 ms |").AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows) text.AppendLine(row);
        text.AppendLine().AppendLine("## Cost of the revocation check on the verify path").AppendLine();
        text.AppendLine(check);
        Console.WriteLine(text);
        if (outPath is not null) await File.WriteAllTextAsync(outPath, text.ToString());
        foreach (var c in sqliteChannels) c.Dispose();
        File.Delete(sqlitePath);
        return 0;
    }

    private static async Task<string> PropagationAsync(string name, int count, Func<Task<IRevocationChannel[]>> open)
    {
        var channels = await open();
        var listeners = new RevocationListener[2];
        // What the engine's own histogram (bouncer.revocation.propagation) reports on B and C, beside the stopwatch.
        using var metrics = new Bouncer.Diagnostics.BouncerMetrics();
        var reported = new System.Collections.Concurrent.ConcurrentBag<double>();
        var recording = false;
        using var meter = new System.Diagnostics.Metrics.MeterListener();
        meter.InstrumentPublished = (instrument, l) => { if (instrument == metrics.RevocationPropagation) l.EnableMeasurementEvents(instrument); };
        meter.SetMeasurementEventCallback<double>((_, value, _, _) => { if (Volatile.Read(ref recording)) reported.Add(value); });
        meter.Start();
        var pending = new TaskCompletionSource[2];
        string? awaited = null;
        for (var i = 0; i < 2; i++)
        {
            var index = i;
            listeners[i] = new RevocationListener(channels[i + 1], new RevocationOptions { ReplayInterval = TimeSpan.FromMinutes(10) }, metrics: metrics);
            listeners[i].Observe(r => { if (r.Subject == Volatile.Read(ref awaited)) pending[index]?.TrySetResult(); });
            await listeners[i].StartAsync(default);
        }
        var samples = new double[count];
        for (var n = -20; n < count; n++)   // 20 warm-up revocations
        {
            if (n == 0) Volatile.Write(ref recording, true);
            var subject = $"bench-{Guid.NewGuid():N}";
            pending[0] = new(TaskCreationOptions.RunContinuationsAsynchronously);
            pending[1] = new(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref awaited, subject);
            var started = Stopwatch.GetTimestamp();
            var now = DateTimeOffset.UtcNow;
            await channels[0].PublishAsync(new RevocationRecord(RevocationKind.Session, subject, now, now.AddMinutes(11)), default);
            await Task.WhenAll(pending[0].Task, pending[1].Task).WaitAsync(TimeSpan.FromSeconds(10));
            if (n >= 0) samples[n] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (!listeners[0].Set.IsSessionRevoked(subject) || !listeners[1].Set.IsSessionRevoked(subject))
                throw new InvalidOperationException($"{name}: revocation observed but not applied");
        }
        foreach (var l in listeners) await l.DisposeAsync();
        Array.Sort(samples);
        var histogram = reported.Order().ToArray();
        Console.Error.WriteLine($"{name} done");
        return $"| {name} | {count} | {samples[count / 2]:0.000} | {samples[(int)(count * 0.99) - 1]:0.000} | {samples[^1]:0.000} | " +
            $"{histogram[histogram.Length / 2]:0.000} | {histogram[(int)(histogram.Length * 0.99) - 1]:0.000} |";
    }

    // Verify a valid HS256 token with and without the revocation check (10,000 entries held), interleaved.
    private static string CheckCost()
    {
        var key = SigningKey.Generate(JwsAlgorithm.HS256, "k1");
        var issuer = new JwsIssuer(key, new IssueOptions { Issuer = "https://id.example", Audience = "api" });
        var token = Encoding.ASCII.GetBytes(issuer.Issue(new TokenRequest { Subject = "alice", SessionId = "sid-alice" }));
        var verifier = new JwsVerifier(JwkSet.Create([key]), new VerifyOptions { Issuer = "https://id.example", Audience = "api" });
        var set = new RevocationSet();
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 5000; i++) set.Apply(new RevocationRecord(RevocationKind.Session, "sid-" + i, now, now.AddMinutes(11)));
        for (var i = 0; i < 4990; i++) set.Apply(new RevocationRecord(RevocationKind.Token, "jti-" + i, now, now.AddMinutes(11)));
        for (var i = 0; i < 10; i++) set.Apply(new RevocationRecord(RevocationKind.User, "user-" + i, now, now.AddMinutes(11)));
        const string sid = "sid-alice", jti = "jti-alice", sub = "alice";
        long iat = now.ToUnixTimeSeconds();

        double Plain(int n)
        {
            var t = Stopwatch.GetTimestamp();
            for (var i = 0; i < n; i++) if (!verifier.Verify(token).IsValid) throw new InvalidOperationException();
            return Stopwatch.GetElapsedTime(t).TotalNanoseconds / n;
        }
        double Checked(int n)
        {
            var t = Stopwatch.GetTimestamp();
            for (var i = 0; i < n; i++)
            {
                var r = verifier.Verify(token);
                if (!r.IsValid || set.IsRevoked(sid, jti, sub, iat)) throw new InvalidOperationException();
            }
            return Stopwatch.GetElapsedTime(t).TotalNanoseconds / n;
        }
        double CheckOnly(int n)
        {
            var t = Stopwatch.GetTimestamp();
            var hits = 0;
            for (var i = 0; i < n; i++) hits += set.IsRevoked(sid, jti, sub, iat) ? 1 : 0;
            if (hits != 0) throw new InvalidOperationException();
            return Stopwatch.GetElapsedTime(t).TotalNanoseconds / n;
        }
        Plain(20_000); Checked(20_000); CheckOnly(200_000);
        var plain = new List<double>(); var withCheck = new List<double>(); var only = new List<double>();
        for (var round = 0; round < 9; round++)
        {
            plain.Add(Plain(100_000));
            withCheck.Add(Checked(100_000));
            only.Add(CheckOnly(2_000_000));
        }
        plain.Sort(); withCheck.Sort(); only.Sort();
        return "Valid HS256 token, set holding 10,000 revocations (sid, jti and user cut-offs), 9 interleaved rounds, median (min..max):\n\n" +
               "| path | ns per token |\n|---|---:|\n" +
               $"| verify only | {plain[4]:0.0} ({plain[0]:0.0}..{plain[^1]:0.0}) |\n" +
               $"| verify + revocation check | {withCheck[4]:0.0} ({withCheck[0]:0.0}..{withCheck[^1]:0.0}) |\n" +
               $"| revocation check alone (sid, jti, sub lookups) | {only[4]:0.0} ({only[0]:0.0}..{only[^1]:0.0}) |\n\n" +
               $"Added by the check: {withCheck[4] - plain[4]:0.0} ns (difference of medians; the check alone measures {only[4]:0.0} ns). Target: < 50 ns.";
    }
}
