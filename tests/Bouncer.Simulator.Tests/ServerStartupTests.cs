using System.Diagnostics;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Bouncer.Simulator.Tests;

/// <summary>
/// The server binary started with bad settings: one line naming the setting, exit code 2, no stack trace. And
/// with good ones: where the default SQLite file lands and with what mode, and what the default logging prints.
/// </summary>
public sealed partial class ServerStartupTests
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Theory]
    [InlineData("Unknown store 'mongo'", "--store", "mongo")]
    [InlineData("--store redis needs --connection", "--store", "redis")]
    [InlineData("not a valid PostgreSQL connection string", "--store", "postgres", "--connection", "Host=;;=")]
    [InlineData("Bouncer:Connection: Redis at '127.0.0.1:1' is unreachable", "--store", "redis", "--connection", "127.0.0.1:1")]
    [InlineData("Bouncer:Connection: PostgreSQL at '127.0.0.1:1/bouncer' is unreachable", "--store", "postgres", "--connection", "Host=127.0.0.1;Port=1;Username=bouncer;Password=hunter2;Database=bouncer")]
    [InlineData("Bouncer:Issuer must be set", "--store", "memory", "--Bouncer:Issuer=")]
    [InlineData("Bouncer:ExchangeTokenLifetime must be between", "--store", "memory", "--Bouncer:ExchangeTokenLifetime=01:00:00")]
    [InlineData("Bouncer:Sessions:IdleTimeout", "--store", "memory", "--Bouncer:Sessions:IdleTimeout=00:00:00")]
    [InlineData("'Bouncer:Sessions:IdleTimeout'", "--store", "memory", "--Bouncer:Sessions:IdleTimeout=soon")]
    [InlineData("'Bouncer:Mode'", "--store", "memory", "--mode", "cookies")]
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
        // Printed once, and a connection string's password never.
        Assert.Single((await stderr + await stdout).Split('\n'), l => l.Contains(expected));
        Assert.DoesNotContain("hunter2", await stderr + await stdout);
    }

    // A named file in a missing folder is a typo or an unmounted volume: refused, never a silent mkdir -p as root.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Start_SqliteConnectionInMissingFolder_OneLineAndExitTwo(bool connectionString)
    {
        using var temp = new TempFolder();
        var missing = Path.Combine(temp.Path, "missing", "deeper");
        var file = Path.Combine(missing, "bouncer.db");

        var (exitCode, stdout, stderr) = await RunToExitAsync(temp.Path, "--store", "sqlite", "--connection", connectionString ? $"Data Source={file}" : file);

        Assert.Equal(2, exitCode);
        var lastLine = stderr.TrimEnd().Split('\n')[^1];
        Assert.StartsWith("bouncer: ", lastLine);
        Assert.Contains("Bouncer:Connection", lastLine);
        Assert.Contains(missing, lastLine);
        Assert.DoesNotContain("   at ", stderr + stdout);
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "missing")));
    }

    // The default ./data/bouncer.db holds password hashes and signing secrets: its folder and files are the owner's only.
    [Fact]
    public async Task Start_DefaultSqlitePath_FolderAndFilesOwnerOnly()
    {
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempFolder();
        await using (var server = await RunningServer.StartAsync(temp.Path))
        {
            await server.WaitForLineAsync(l => l.Contains("Bouncer started"));
            Assert.True((await server.Http.PostAsJsonAsync("/auth/register", new { username = "alice", password = RunningServer.Password })).IsSuccessStatusCode);

            var folder = Path.Combine(temp.Path, "data");
            Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(folder));
            foreach (var file in new[] { "bouncer.db", "bouncer.db-wal", "bouncer.db-shm" })
                Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(Path.Combine(folder, file)));
        }
    }

    // The one start-up line an operator checks first: mode, store and where it is, issuer, audience.
    [Fact]
    public async Task Start_DefaultSettings_OneLineNamingModeStorePathIssuerAudience()
    {
        using var temp = new TempFolder();
        await using var server = await RunningServer.StartAsync(temp.Path);
        await server.WaitForLineAsync(l => l.Contains("Bouncer started"));

        var started = Assert.Single(server.Lines, l => l.Contains("Bouncer started"));
        Assert.Contains($"Bouncer started: mode hybrid, store sqlite {Path.Combine(temp.Path, "data", "bouncer.db")}, issuer urn:bouncer, audience bouncer", started);
    }

    // At 1,300 requests a second, one line per request is gigabytes a day: by default the server logs start-up,
    // warnings and the audit trail; per-request lines need Logging:LogLevel:Microsoft.AspNetCore=Information.
    [Theory]
    [InlineData("default")]
    [InlineData("command line")]
    [InlineData("environment")]
    public async Task Start_Logging_PerRequestLinesOnlyWhenAskedFor(string setting)
    {
        using var temp = new TempFolder();
        var asked = setting != "default";
        string[] args = setting == "command line" ? ["--store", "memory", "--Logging:LogLevel:Microsoft.AspNetCore=Information"] : ["--store", "memory"];
        await using var server = await RunningServer.StartAsync(temp.Path, args, setting == "environment" ? "Information" : null);
        const int requests = 20;
        for (var i = 0; i < requests; i++) (await server.Http.GetAsync("/healthz")).EnsureSuccessStatusCode();
        // The audit line (Bouncer.Audit, Information) comes after every earlier request's "Request starting".
        (await server.Http.PostAsJsonAsync("/auth/register", new { username = "alice", password = RunningServer.Password })).EnsureSuccessStatusCode();
        (await server.Http.PostAsJsonAsync("/auth/login", new { username = "alice", password = RunningServer.Password, mode = "session" })).EnsureSuccessStatusCode();
        await server.WaitForLineAsync(l => l.Contains("Security audit: login_succeeded"));
        if (asked) await server.WaitForLineAsync(_ => server.Lines.Count(l => l.Contains("Request finished")) >= requests);

        var lines = server.Lines;
        Assert.Contains(lines, l => l.Contains("Bouncer started"));
        Assert.Contains(lines, l => l.Contains("Now listening on"));
        Assert.Equal(asked, lines.Any(l => l.Contains("Request starting")));
        Assert.Equal(asked, lines.Any(l => l.Contains("Request finished")));
    }

    private static string ServerPath() =>
        typeof(ServerStartupTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ServerPath").Value!;

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (var arg in new[] { ServerPath(), "--urls", "http://127.0.0.1:0" }.Concat(args)) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("bouncer-startup-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    /// <summary>The server on a port of its choosing (read from its "Now listening on" line), its stdout kept line by line.</summary>
    private sealed partial class RunningServer : IAsyncDisposable
    {
        public const string Password = "correct horse battery staple";

        private readonly Process _process;
        private readonly List<string> _lines = [];

        private RunningServer(Process process) => _process = process;

        public HttpClient Http { get; } = new();

        public IReadOnlyList<string> Lines
        {
            get { lock (_lines) return [.. _lines]; }
        }

        public static async Task<RunningServer> StartAsync(string workingDirectory, string[]? args = null, string? aspNetCoreLevel = null)
        {
            args ??= [];
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
            foreach (var arg in new[] { ServerPath(), "--urls", "http://127.0.0.1:0" }.Concat(args)) start.ArgumentList.Add(arg);
            start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            start.Environment.Remove("Logging__LogLevel__Default");
            start.Environment.Remove("Logging__LogLevel__Microsoft.AspNetCore");
            if (aspNetCoreLevel is not null) start.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = aspNetCoreLevel;
            var server = new RunningServer(Process.Start(start)!);
            server._process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null) lock (server._lines) server._lines.Add(e.Data);
            };
            server._process.ErrorDataReceived += (_, _) => { };
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            try
            {
                await server.WaitForLineAsync(l => l.Contains("Now listening on"));
                // The console logger puts the address on the line after the message.
                await server.WaitForLineAsync(l => ListeningAddress().IsMatch(l));
                server.Http.BaseAddress = new Uri(server.Lines.Select(l => ListeningAddress().Match(l)).First(m => m.Success).Value);
                return server;
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }

        public async Task WaitForLineAsync(Func<string, bool> predicate)
        {
            for (var i = 0; i < 300; i++)
            {
                if (Lines.Any(predicate)) return;
                if (_process.HasExited) throw new InvalidOperationException("The server exited:\n" + string.Join('\n', Lines));
                await Task.Delay(100);
            }
            throw new TimeoutException("No such line in the server's output:\n" + string.Join('\n', Lines));
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }

        [GeneratedRegex(@"http://127\.0\.0\.1:\d+")]
        private static partial Regex ListeningAddress();
    }
}
