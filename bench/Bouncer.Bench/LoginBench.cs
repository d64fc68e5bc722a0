using System.Buffers.Text;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Users;

namespace Bouncer.Bench;

/// <summary>
/// Password checks per second: Argon2id at the current parameters (m = 19 MiB, t = 2, p = 1) against the PBKDF2-HMAC-
/// SHA512 100,000-iteration hashes written before, each through <see cref="PasswordHasher.Verify"/> (so within its
/// concurrency cap), on 1 and 2 threads; plus whole logins (<see cref="UserService.AuthenticateAsync"/> on the memory
/// store, right password). Rounds rotate the contenders so drift and other load hit all alike.
/// </summary>
internal static class LoginBench
{
    private sealed record Contender(string Name, int Threads, Func<bool> Op);

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int outAt = Array.IndexOf(args, "--out");
        string? outPath = outAt >= 0 && outAt + 1 < args.Length ? args[outAt + 1] : null;
        int rounds = quick ? 2 : 5;
        var slice = TimeSpan.FromSeconds(quick ? 1 : 3);
        string loadBefore = LoadAverage();

        const string password = "correct horse battery staple";
        var argon2 = PasswordHasher.Hash(password);
        var pbkdf2 = Pbkdf2Hash(password);
        var store = new MemoryUserStore();
        var users = new UserService(store, TimeProvider.System);
        if (users.RegisterAsync("alice", password, "", default).AsTask().GetAwaiter().GetResult().Outcome != UserOutcome.Ok) throw new InvalidOperationException("register failed");
        bool Login() => users.AuthenticateAsync("alice", password, default).AsTask().GetAwaiter().GetResult().Outcome == UserOutcome.Ok;

        var contenders = new List<Contender>();
        foreach (var threads in new[] { 1, 2 })
        {
            contenders.Add(new($"Argon2id m=19456 t=2 p=1 `Verify`", threads, () => PasswordHasher.Verify(argon2, password)));
            contenders.Add(new($"PBKDF2-SHA512 100,000 `Verify`", threads, () => PasswordHasher.Verify(pbkdf2, password)));
            contenders.Add(new($"login (`AuthenticateAsync`, Argon2id, memory store)", threads, Login));
        }
        foreach (var c in contenders)
            if (!c.Op()) throw new InvalidOperationException($"{c.Name} failed its own input");
        foreach (var c in contenders) Measure(c, TimeSpan.FromMilliseconds(300));   // warm-up

        var samples = contenders.ToDictionary(c => c, _ => new List<(double PerSecond, double CpuMs)>());
        for (int r = 0; r < rounds; r++)
        {
            for (int i = 0; i < contenders.Count; i++)
            {
                var c = contenders[(i + r) % contenders.Count];
                samples[c].Add(Measure(c, slice));
            }
            Console.Error.WriteLine($"round {r + 1}/{rounds} done");
        }

        var sb = new StringBuilder();
        sb.AppendLine("# Login benchmark: password checks per second");
        sb.AppendLine();
        sb.AppendLine($"- Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, " +
                      $"{Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}; `PasswordHasher.MaxConcurrentHashes` = {PasswordHasher.MaxConcurrentHashes}.");
        sb.AppendLine($"- Harness: {rounds} rounds x {slice.TotalSeconds:0} s per contender (order rotated each round); N threads each loop the operation; checks/s = all threads' checks / wall time, median [min - max] over rounds.");
        sb.AppendLine("- CPU ms/check: process CPU time / checks (median), which other load on the machine disturbs less than wall time.");
        sb.AppendLine($"- Machine load average (1/5/15 min) before: {loadBefore}, after: {LoadAverage()}.");
        sb.AppendLine($"- Process peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB.");
        sb.AppendLine();
        sb.AppendLine("| hash | threads | checks/s | ms/check (wall, per thread) | CPU ms/check |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var c in contenders.OrderBy(c => c.Name).ThenBy(c => c.Threads))
        {
            var s = samples[c];
            var rates = s.Select(x => x.PerSecond).ToArray();
            var median = Median(rates);
            sb.AppendLine($"| {c.Name} | {c.Threads} | {median:N1} [{rates.Min():N1} - {rates.Max():N1}] | {1000 * c.Threads / median:N1} | {Median(s.Select(x => x.CpuMs).ToArray()):N1} |");
        }
        var table = sb.ToString();
        Console.WriteLine(table);
        if (outPath is not null) File.WriteAllText(outPath, table);
        return 0;
    }

    private static string Pbkdf2Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var subkey = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, 100_000, HashAlgorithmName.SHA512, 32);
        return $"pbkdf2-sha512$100000${Base64Url.EncodeToString(salt)}${Base64Url.EncodeToString(subkey)}";
    }

    private static (double PerSecond, double CpuMs) Measure(Contender c, TimeSpan duration)
    {
        long checks = 0;
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, c.Threads).Select(_ => new Thread(() =>
        {
            long mine = 0;
            while (sw.Elapsed < duration)
                if (c.Op()) mine++;
            Interlocked.Add(ref checks, mine);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        var wall = sw.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalMilliseconds;
        return (checks / wall, cpu / checks);
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
