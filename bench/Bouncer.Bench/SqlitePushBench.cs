using System.Diagnostics;
using System.Text;
using Bouncer.Revocation;
using Bouncer.Stores.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bouncer.Bench;

/// <summary>
/// How a process learns that another process wrote a revocation into a shared SQLite file: the cost of one check
/// per candidate (PRAGMA data_version, indexed max(cursor), a sidecar file watched through inotify), the CPU an idle
/// subscriber burns per candidate, and the propagation the shipped channel reaches across two real processes.
/// </summary>
internal static class SqlitePushBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Arg(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        if (Arg("--publish") is { } publishPath) return await PublishAsync(publishPath, int.Parse(Arg("--count") ?? "500"));
        var count = int.Parse(Arg("--count") ?? "500");
        var outPath = Arg("--out");
        var dir = Directory.CreateTempSubdirectory("bouncer-sqlite-push-");
        var path = Path.Combine(dir.FullName, "push.db");
        var text = new StringBuilder();
        try
        {
            using (new SqliteRevocationChannel(path)) { }   // schema
            text.AppendLine(CheckCosts(path));
            text.AppendLine(await IdleCostAsync(path));
            text.AppendLine(await WatcherLatencyAsync(dir.FullName));
            text.AppendLine(await CrossProcessAsync(path, count));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
        Console.WriteLine(text);
        if (outPath is not null) await File.WriteAllTextAsync(outPath, text.ToString());
        return 0;
    }

    private static SqliteConnection Open(string path)
    {
        var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        return c;
    }

    // The cost of one check per candidate, on an idle file (the case that repeats all day), median of 9 rounds.
    private static string CheckCosts(string path)
    {
        using var connection = Open(path);
        using var version = connection.CreateCommand();
        version.CommandText = "PRAGMA data_version";
        using var max = connection.CreateCommand();
        max.CommandText = """SELECT coalesce(max(cursor), 0) FROM "bouncer_revocations" """;
        var sidecar = path + "-sidecar";
        File.WriteAllBytes(sidecar, [0]);

        double Time(Action check, int n)
        {
            var t = Stopwatch.GetTimestamp();
            for (var i = 0; i < n; i++) check();
            return Stopwatch.GetElapsedTime(t).TotalNanoseconds / n / 1000.0;
        }
        double Median(Action check, int n)
        {
            Time(check, n / 10);
            var rounds = Enumerable.Range(0, 9).Select(_ => Time(check, n)).Order().ToArray();
            return rounds[4];
        }
        var dataVersion = Median(() => version.ExecuteScalar(), 20_000);
        var maxCursor = Median(() => max.ExecuteScalar(), 20_000);
        var stat = Median(() => File.GetLastWriteTimeUtc(sidecar), 20_000);
        return "## Candidates: cost of one check on an idle file\n\n" +
               "Median of 9 rounds of 20,000 checks on one held connection (µs per check):\n\n" +
               "| candidate | µs per check |\n|---|---:|\n" +
               $"| `PRAGMA data_version` (changes when another connection commits) | {dataVersion:0.00} |\n" +
               $"| `SELECT max(cursor)` (the former poll, primary-key index) | {maxCursor:0.00} |\n" +
               $"| `stat` of a sidecar file (the poll a file touch would need without inotify) | {stat:0.00} |\n";
    }

    // CPU time of this process while a subscriber sits idle, per candidate: 10 s each, minus a baseline of 10 s idle.
    private static async Task<string> IdleCostAsync(string path)
    {
        var seconds = 10;
        var process = Process.GetCurrentProcess();
        async Task<double> CpuMsPerSecond(Func<CancellationToken, Task> idle)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            process.Refresh();
            var before = process.TotalProcessorTime;
            try { await idle(stop.Token); } catch (OperationCanceledException) { }
            process.Refresh();
            return (process.TotalProcessorTime - before).TotalMilliseconds / seconds;
        }
        async Task Poll(TimeSpan interval, Action check, CancellationToken ct)
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(ct)) check();
        }
        using var connection = Open(path);
        using var version = connection.CreateCommand();
        version.CommandText = "PRAGMA data_version";
        using var max = connection.CreateCommand();
        max.CommandText = """SELECT coalesce(max(cursor), 0) FROM "bouncer_revocations" """;

        var baseline = await CpuMsPerSecond(ct => Task.Delay(Timeout.Infinite, ct));
        var timerAt250 = await CpuMsPerSecond(ct => Poll(TimeSpan.FromMilliseconds(250), () => { }, ct));
        var timerAt10 = await CpuMsPerSecond(ct => Poll(TimeSpan.FromMilliseconds(10), () => { }, ct));
        var maxAt250 = await CpuMsPerSecond(ct => Poll(TimeSpan.FromMilliseconds(250), () => max.ExecuteScalar(), ct));
        var maxAt10 = await CpuMsPerSecond(ct => Poll(TimeSpan.FromMilliseconds(10), () => max.ExecuteScalar(), ct));
        var versionAt10 = await CpuMsPerSecond(ct => Poll(TimeSpan.FromMilliseconds(10), () => version.ExecuteScalar(), ct));
        var versionAt5 = await CpuMsPerSecond(ct => Poll(TimeSpan.FromMilliseconds(5), () => version.ExecuteScalar(), ct));
        var watcher = await CpuMsPerSecond(async ct =>
        {
            using var w = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path) + "-sidecar") { EnableRaisingEvents = true };
            await Task.Delay(Timeout.Infinite, ct);
        });
        var shipped = await CpuMsPerSecond(async ct =>
        {
            await using var channel = new SqliteRevocationChannel(path);
            await using var listener = new RevocationListener(channel, new RevocationOptions { ReplayInterval = TimeSpan.FromMinutes(10) });
            await listener.StartAsync(ct);
            await Task.Delay(Timeout.Infinite, ct);
        });
        var baselineAgain = await CpuMsPerSecond(ct => Task.Delay(Timeout.Infinite, ct));
        baseline = Math.Min(baseline, baselineAgain);
        string Row(string name, double v) => $"| {name} | {v:0.000} | {v - baseline:+0.000;-0.000} | {(v - baseline) / 10:+0.000;-0.000}% |";
        return $"## Idle cost: CPU of a subscriber while nothing is written\n\n" +
               $"Process CPU time over {seconds} s per candidate (ms of CPU per second of wall time), minus an idle baseline; the last column is the share of one core.\n\n" +
               "| candidate | CPU ms/s | over baseline | of one core |\n|---|---:|---:|---:|\n" +
               Row("baseline (nothing subscribed; the lower of one before and one after the rest)", baseline) + "\n" +
               Row("an empty timer tick every 250 ms (the wake-up alone)", timerAt250) + "\n" +
               Row("an empty timer tick every 10 ms (the wake-up alone)", timerAt10) + "\n" +
               Row("`max(cursor)` every 250 ms (the former channel)", maxAt250) + "\n" +
               Row("`max(cursor)` every 10 ms", maxAt10) + "\n" +
               Row("`PRAGMA data_version` every 10 ms", versionAt10) + "\n" +
               Row("`PRAGMA data_version` every 5 ms", versionAt5) + "\n" +
               Row("`FileSystemWatcher` (inotify) on a sidecar file", watcher) + "\n" +
               Row("shipped `SqliteRevocationChannel` + listener, default settings (signal file watched, 250 ms poll behind it)", shipped) + "\n";
    }

    // Touch a sidecar file, time until the watcher in this process raises its event: the push a file notification gives.
    private static async Task<string> WatcherLatencyAsync(string dir)
    {
        var sidecar = Path.Combine(dir, "watch-sidecar");
        File.WriteAllBytes(sidecar, [0]);
        using var w = new FileSystemWatcher(dir, "watch-sidecar") { NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size, EnableRaisingEvents = true };
        TaskCompletionSource? pending = null;
        w.Changed += (_, _) => Volatile.Read(ref pending)?.TrySetResult();
        var samples = new List<double>();
        for (var n = -20; n < 500; n++)
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref pending, tcs);
            var t = Stopwatch.GetTimestamp();
            await File.WriteAllBytesAsync(sidecar, BitConverter.GetBytes(n));
            await tcs.Task.WaitAsync(TimeSpan.FromSeconds(5));
            if (n >= 0) samples.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            await Task.Delay(2);
        }
        samples.Sort();
        return "## Candidate: file notification latency\n\n" +
               "Write to a sidecar file, until `FileSystemWatcher` (inotify) raises `Changed` in the same process, 500 samples:\n\n" +
               $"| p50 ms | p99 ms | max ms |\n|---:|---:|---:|\n| {samples[250]:0.000} | {samples[494]:0.000} | {samples[^1]:0.000} |\n";
    }

    // A second process publishes through its own channel on the file; this one subscribes with the shipped
    // channel and measures from the record's At (wall clock, taken by the publisher just before its insert).
    private static async Task<string> CrossProcessAsync(string path, int count)
    {
        await using var channel = new SqliteRevocationChannel(path);
        await using var listener = new RevocationListener(channel, new RevocationOptions { ReplayInterval = TimeSpan.FromMinutes(10) });
        var samples = new List<double>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.Observe(r =>
        {
            if (!r.Subject.StartsWith("xproc-", StringComparison.Ordinal)) return;
            var ms = (DateTimeOffset.UtcNow - r.At).TotalMilliseconds;
            lock (samples)
            {
                if (!r.Subject.StartsWith("xproc-warm", StringComparison.Ordinal)) samples.Add(ms);
                if (samples.Count == count) done.TrySetResult();
            }
        });
        await listener.StartAsync(default);
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardError = true };
        var dll = typeof(SqlitePushBench).Assembly.Location;
        if (!Path.GetFileNameWithoutExtension(self).Equals("Bouncer.Bench", StringComparison.OrdinalIgnoreCase)) start.ArgumentList.Add(dll);
        foreach (var a in new[] { "sqlite-push", "--publish", path, "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture) }) start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        var childErrors = child.StandardError.ReadToEndAsync();
        try { await done.Task.WaitAsync(TimeSpan.FromSeconds(120)); }
        catch (TimeoutException)
        {
            int seen;
            lock (samples) seen = samples.Count;
            child.Kill();
            throw new TimeoutException($"{seen} of {count} revocations arrived in 120 s (publisher exit {(child.HasExited ? child.ExitCode : -1)}: {await childErrors})");
        }
        await child.WaitForExitAsync();
        samples.Sort();
        return "## Cross-process propagation with the shipped channel\n\n" +
               $"A second process publishes {count} revocations through its own `SqliteRevocationChannel` on the file, one every 20 ms " +
               "(after 20 warm-up ones); this process subscribes with a `RevocationListener` and takes `now - At` on arrival " +
               "(`At` is the publisher's wall clock just before the insert, in whole milliseconds, so samples read up to 1 ms high).\n\n" +
               $"| p50 ms | p99 ms | max ms |\n|---:|---:|---:|\n| {samples[count / 2]:0.0} | {samples[(int)(count * 0.99) - 1]:0.0} | {samples[^1]:0.0} |\n";
    }

    private static async Task<int> PublishAsync(string path, int count)
    {
        await using var channel = new SqliteRevocationChannel(path);
        for (var n = -20; n < count; n++)
        {
            var now = DateTimeOffset.UtcNow;
            var subject = n < 0 ? $"xproc-warm-{n}" : $"xproc-{n}";
            await channel.PublishAsync(new RevocationRecord(RevocationKind.Session, subject, now, now.AddMinutes(11)), default);
            // Spread over poll phases: a fixed period could line up with the poll and hide its worst case.
            await Task.Delay(20 + (n & 7));
        }
        return 0;
    }
}
