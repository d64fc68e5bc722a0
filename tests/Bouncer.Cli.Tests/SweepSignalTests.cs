using System.Diagnostics;
using System.Runtime.InteropServices;
using Bouncer.Stores.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bouncer.Cli.Tests;

/// <summary>
/// <c>bouncer sessions sweep</c> as its own process, stopped by a signal in the middle of a long sweep: one line
/// on stderr with the count, the shell's exit code for the signal, no stack trace, and the count equal to the rows
/// actually gone from the file.
/// </summary>
public sealed partial class SweepSignalTests : IDisposable
{
    private const int Seeded = 50_000;
    private const int SigTerm = 15, SigInt = 2;

    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-signal-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); }
        catch (IOException) { }
    }

    [Theory]
    [InlineData(SigTerm, 143)]
    [InlineData(SigInt, 130)]
    public async Task Sweep_StoppedBySignal_OneLineWithTheExactCount_ShellExitCode(int signal, int exitCode)
    {
        var db = Path.Combine(_folder, $"sweep{signal}.db");
        Seed(db);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Batches of one: every row its own fsynced transaction, so the sweep is still running when the signal comes.
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "bouncer.dll"), "sessions", "sweep", "--batch-size", "1", "--connection", db })
            start.ArgumentList.Add(arg);
        using var cli = Process.Start(start)!;
        var stdout = new List<string>();
        var progressed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cli.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stdout) stdout.Add(e.Data);
            if (e.Data.StartsWith("swept 20...", StringComparison.Ordinal)) progressed.TrySetResult();
        };
        cli.BeginOutputReadLine();
        var stderr = cli.StandardError.ReadToEndAsync();
        await progressed.Task.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, Kill(cli.Id, signal));
        await cli.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var error = (await stderr).Trim();
        Assert.Equal(exitCode, cli.ExitCode);
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain("   at ", error);
        var match = StoppedLine().Match(error);
        Assert.True(match.Success, $"stderr: {error}");
        var reported = long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var left = Count(db);
        Assert.True(reported > 0 && left > 0, $"stopped in the middle: swept {reported}, {left} left");
        Assert.Equal(Seeded - left, reported);
        lock (stdout) Assert.Equal($"swept {reported}...", stdout[^1]);
    }

    // Rows straight into the store's table, expired a day ago: the CLI sweeps by the system clock.
    private static void Seed(string db)
    {
        new SqliteSessionStore(db).Dispose();
        using var c = new SqliteConnection($"Data Source={db};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        var t = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds();
        cmd.CommandText = $"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {Seeded})
            INSERT INTO bouncer_sessions (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at)
            SELECT randomblob(32), 'old' || (i % 100), {t}, {t}, {t}, {t} FROM n
            """;
        cmd.ExecuteNonQuery();
    }

    private static long Count(string db)
    {
        using var c = new SqliteConnection($"Data Source={db};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM bouncer_sessions";
        return (long)cmd.ExecuteScalar()!;
    }

    // Process.Kill sends SIGKILL only; the test needs the signals an operator or a service manager sends.
    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    [System.Text.RegularExpressions.GeneratedRegex(@"^stopped: swept (\d+) expired session\(s\) before the signal$")]
    private static partial System.Text.RegularExpressions.Regex StoppedLine();
}
