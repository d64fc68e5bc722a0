using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Bouncer.Cli.Tests;

/// <summary>
/// A command that cannot see its cancellation token (here <c>token verify --stdin</c> blocked reading standard input)
/// survives the first signal, which only asks it to stop, and ends at once on the second with the signal's exit code
/// (review finding 4: every signal used to be cancelled, so nothing short of SIGKILL stopped it).
/// </summary>
public sealed class SecondSignalTests : IDisposable
{
    private const int SigTerm = 15, SigInt = 2;

    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-signal2-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(SigTerm, BouncerCli.Terminated)]
    [InlineData(SigInt, BouncerCli.Interrupted)]
    public async Task BlockedCommand_SecondSignal_ExitsAtOnceWithTheSignalsCode(int signal, int exitCode)
    {
        var keys = Path.Combine(_folder, "keys.json");
        Assert.Equal(0, await Program.RunAsync(Program.BuildRoot(), ["keys", "new", "--alg", "HS256", "--out", keys], TextWriter.Null, TextWriter.Null));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "bouncer.dll"), "token", "verify", "--keys", keys, "--iss", "I", "--aud", "A", "--stdin" })
            start.ArgumentList.Add(arg);
        using var cli = Process.Start(start)!;
        try
        {
            var stderr = cli.StandardError.ReadToEndAsync();
            // One answered line: the signal handlers are registered (before the command runs) and it reads the next line.
            await cli.StandardInput.WriteLineAsync("not-a-token");
            await cli.StandardInput.FlushAsync();
            Assert.Contains("\"valid\":false", await cli.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)));

            Assert.Equal(0, Kill(cli.Id, signal));
            // Still answering after the first signal (which it has received: the kernel delivers a pending signal before
            // the process runs on, and this line was answered after it was sent).
            await cli.StandardInput.WriteLineAsync("still-not-a-token");
            await cli.StandardInput.FlushAsync();
            Assert.Contains("\"valid\":false", await cli.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.False(cli.HasExited);

            Assert.Equal(0, Kill(cli.Id, signal));
            await cli.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(exitCode, cli.ExitCode);
            var error = (await stderr).Trim();
            Assert.StartsWith("stopped at once by a second", error);
            Assert.DoesNotContain("   at ", error);
        }
        finally
        {
            if (!cli.HasExited) cli.Kill();
        }
    }

    // Process.Kill sends SIGKILL only; the test needs the signals an operator or a service manager sends.
    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
