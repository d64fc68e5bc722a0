using System.Diagnostics;
using System.Reflection;

namespace Bouncer.Simulator.Tests;

/// <summary>The server binary started with bad settings: one line naming the setting, exit code 2, no stack trace.</summary>
public sealed class ServerStartupTests
{
    [Theory]
    [InlineData("Unknown store 'mongo'", "--store", "mongo")]
    [InlineData("--store redis needs --connection", "--store", "redis")]
    [InlineData("not a valid PostgreSQL connection string", "--store", "postgres", "--connection", "Host=;;=")]
    [InlineData("Redis at '127.0.0.1:1' is unreachable", "--store", "redis", "--connection", "127.0.0.1:1")]
    [InlineData("Bouncer:TrustedProxies: 'proxy.internal' is not an IP address", "--store", "memory", "--Bouncer:TrustedProxies", "10.0.0.1,proxy.internal")]
    public async Task Start_BadStoreSettings_OneLineAndExitTwo(string expected, params string[] args)
    {
        var serverPath = typeof(ServerStartupTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ServerPath").Value!;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { serverPath, "--urls", "http://127.0.0.1:0" }.Concat(args)) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, process.ExitCode);
        var lastLine = (await stderr).TrimEnd().Split('\n')[^1];
        Assert.StartsWith("bouncer: ", lastLine);
        Assert.Contains(expected, lastLine);
        Assert.DoesNotContain("   at ", await stderr + await stdout);
    }
}
