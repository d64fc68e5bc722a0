using System.Collections.Concurrent;
using System.Diagnostics;

namespace Bouncer.Packaging.Tests;

/// <summary>Runs a program (the dotnet CLI, the installed tool) to completion, bounded, with its output kept for failure messages.</summary>
internal static class DotnetCli
{
    /// <summary>Runs <paramref name="file"/> in <paramref name="folder"/>; fails the test with the output tail on a non-zero exit or after <paramref name="limit"/>.</summary>
    public static async Task<string> RunAsync(string folder, TimeSpan limit, string file, params string[] arguments)
    {
        var (exit, output) = await TryRunAsync(folder, limit, file, arguments);
        Assert.True(exit == 0, $"`{file} {string.Join(' ', arguments)}` exited {exit}:\n{Tail(output)}");
        return output;
    }

    public static async Task<(int Exit, string Output)> TryRunAsync(string folder, TimeSpan limit, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // The consuming app must not see this repository's build: no MSBuild node reuse across the boundary.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var output = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`{file} {string.Join(' ', arguments)}` did not finish within {limit}:\n{Tail(string.Join('\n', output))}");
        }
        process.WaitForExit();
        return (process.ExitCode, string.Join('\n', output));
    }

    public static string Tail(string output) => string.Join('\n', output.Split('\n').TakeLast(40));
}
