using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Bouncer.Tests;

namespace Bouncer.Cli.Tests;

/// <summary>
/// The SQLite default with no key in the environment (review finding 9): every other CLI test carries
/// Bouncer__KeyEncryption__Key (TestEnvironment), so the <c>&lt;db&gt;.key</c> file beside the database, which the
/// server creates and the CLI must find on its own, was never exercised end to end. Here both are child processes with
/// the variable removed from their environment.
/// </summary>
public sealed class SqliteDefaultKeyFileEndToEndTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-keyfile-e2e-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public async Task ServerAndCli_WithoutAnEnvironmentKey_ShareTheKeyFileBesideTheDatabase()
    {
        var db = Path.Combine(_folder, "bouncer.db");
        await using var server = await ServerProcess.StartWithoutEnvironmentAsync(TestKeyEncryption.Variable, "sqlite", db);
        Assert.True(File.Exists(Path.Combine(_folder, "bouncer.key")), "the server made no key file beside the database: " + string.Join(", ", Directory.GetFiles(_folder)));
        var user = "keyfile-" + Guid.NewGuid().ToString("N")[..12];
        await server.RegisterAsync(user);
        var session = await server.LoginAsync(user, "session");
        using var jwks = await server.SendAsync(HttpMethod.Get, "/.well-known/jwks.json");
        var published = JsonDocument.Parse(await jwks.Content.ReadAsStringAsync()).RootElement.GetProperty("keys").EnumerateArray()
            .Select(k => k.GetProperty("kid").GetString()!).ToList();

        // The signing keys are stored encrypted: listing them means the CLI decrypted them with the server's key file.
        var (code, output, error) = await CliProcessAsync("keys", "list", "--json", "--connection", db);
        Assert.True(code == 0, $"bouncer keys list exited {code}: {error}");
        var listed = JsonDocument.Parse(output).RootElement.EnumerateArray().Select(k => k.GetProperty("kid").GetString()!).ToList();
        Assert.Contains(published[0], listed);

        (code, output, error) = await CliProcessAsync("sessions", "revoke", "--user", user, "--connection", db);
        Assert.True(code == 0, $"bouncer sessions revoke exited {code}: {output} {error}");
        var clock = Stopwatch.StartNew();
        while (await server.MeAsync(session.Cookie) != HttpStatusCode.Unauthorized && clock.Elapsed < Deadline) await Task.Delay(50);
        Assert.Equal(HttpStatusCode.Unauthorized, await server.MeAsync(session.Cookie));
    }

    private static async Task<(int Code, string Output, string Error)> CliProcessAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bouncer.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment.Remove(TestKeyEncryption.Variable);
        using var cli = Process.Start(start)!;
        var output = cli.StandardOutput.ReadToEndAsync();
        var error = cli.StandardError.ReadToEndAsync();
        await cli.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (cli.ExitCode, await output, await error);
    }
}
