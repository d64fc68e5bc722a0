using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Bouncer.Stores.Tests;

namespace Bouncer.Cli.Tests;

/// <summary>
/// End to end, external surfaces only: a running server (a separate process, near cache on) holds a user's
/// sessions in its cache, then <c>bouncer sessions revoke</c> runs against the same store. The next request
/// with a revoked session's cookie, or with its hybrid token, must be refused within the backend's
/// propagation bound; sessions not revoked keep working.
/// </summary>
/// <remarks>
/// The deadline is generous on purpose: the assertion is that the revoke reaches the server at all (SQLite
/// cross-process: milliseconds through the signal file, at worst one 250 ms poll interval; Redis pub/sub and PostgreSQL LISTEN: milliseconds),
/// not how fast, which is for the benches. The CLI has no key-prefix / schema option, so the server runs on
/// the stores' default names and each test uses its own user. The memory store lives inside one process, so
/// a CLI process cannot share it: no memory variant.
/// </remarks>
public abstract class CliRevokeReachesServerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(50);

    /// <summary>The <c>--store</c> value, the same for the server and the CLI.</summary>
    protected abstract string Kind { get; }

    /// <summary>The <c>--connection</c> value, the same for the server and the CLI.</summary>
    protected abstract string Connection { get; }

    [Fact]
    public async Task CliRevokeOneSession_RefusesItsCookieAndHybridToken_OtherSessionKeepsWorking()
    {
        await using var server = await ServerProcess.StartAsync(Kind, Connection);
        var user = NewUser();
        await server.RegisterAsync(user);
        var revoked = await server.LoginAsync(user, "revoked session");
        var kept = await server.LoginAsync(user, "kept session");
        // Accepted first: the server's near cache now holds both sessions.
        await AssertAcceptedAsync(server, "before the revoke", revoked.Cookie, revoked.Token, kept.Cookie, kept.Token);
        var listed = await CliHandlesAsync(user);
        Assert.Contains(revoked.Handle, listed);
        Assert.Contains(kept.Handle, listed);

        var (code, output, error) = await Cli("sessions", "revoke", "--user", user, "--id", revoked.Handle, "--store", Kind, "--connection", Connection);

        Assert.True(code == 0, $"bouncer sessions revoke --id exited {code}: {output} {error}");
        Assert.Contains("revoked 1", output);
        Assert.DoesNotContain(revoked.Handle, await CliHandlesAsync(user));   // gone from the store itself
        await AssertRefusedWithinDeadlineAsync(server, revoked.Cookie, revoked.Token);
        await AssertAcceptedAsync(server, "after the other session's revoke", kept.Cookie, kept.Token);
    }

    [Fact]
    public async Task CliRevokeUser_RefusesEveryCookieAndHybridTokenOfTheUser()
    {
        await using var server = await ServerProcess.StartAsync(Kind, Connection);
        var user = NewUser();
        await server.RegisterAsync(user);
        var first = await server.LoginAsync(user, "first session");
        var second = await server.LoginAsync(user, "second session");
        await AssertAcceptedAsync(server, "before the revoke", first.Cookie, first.Token, second.Cookie, second.Token);
        var listed = await CliHandlesAsync(user);
        Assert.Contains(first.Handle, listed);
        Assert.Contains(second.Handle, listed);

        var (code, output, error) = await Cli("sessions", "revoke", "--user", user, "--store", Kind, "--connection", Connection);

        Assert.True(code == 0, $"bouncer sessions revoke --user exited {code}: {output} {error}");
        Assert.Contains("revoked 2", output);
        Assert.Empty(await CliHandlesAsync(user));   // gone from the store itself
        await AssertRefusedWithinDeadlineAsync(server, first.Cookie, first.Token, second.Cookie, second.Token);
    }

    private static string NewUser() => "clirev-" + Guid.NewGuid().ToString("N")[..12];

    private static async Task AssertAcceptedAsync(ServerProcess server, string when, params Credential[] credentials)
    {
        foreach (var credential in credentials)
        {
            var status = await server.MeAsync(credential);
            Assert.True(status == HttpStatusCode.OK, $"GET /api/me with the {credential} {when}: {(int)status}, expected 200.");
        }
    }

    /// <summary>Polls GET /api/me with every credential until each answers 401, or fails naming those still let in at the deadline.</summary>
    private async Task AssertRefusedWithinDeadlineAsync(ServerProcess server, params Credential[] credentials)
    {
        var last = credentials.ToDictionary(c => c, _ => HttpStatusCode.OK);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            foreach (var credential in last.Keys.ToList())
            {
                var status = await server.MeAsync(credential);
                if (status == HttpStatusCode.Unauthorized) last.Remove(credential);
                else last[credential] = status;
            }
            if (last.Count == 0) return;
            if (clock.Elapsed > Deadline) break;
            await Task.Delay(PollEvery);
        }
        Assert.Fail($"{Kind}: {Deadline.TotalSeconds:0} s after `bouncer sessions revoke` (the store no longer holds the session), GET /api/me still let in: "
            + string.Join(", ", last.Select(p => $"the {p.Key} ({(int)p.Value})"))
            + ". The revoke did not reach the running server's near cache / revocation set.");
    }

    /// <summary>The handles <c>bouncer sessions list --json</c> shows for the user, read from the same store as the server's.</summary>
    private async Task<List<string>> CliHandlesAsync(string user)
    {
        var (code, output, error) = await Cli("sessions", "list", "--user", user, "--store", Kind, "--connection", Connection, "--json");
        Assert.True(code == 0, $"bouncer sessions list exited {code}: {error}");
        using var doc = JsonDocument.Parse(output);
        return doc.RootElement.EnumerateArray().Select(s => s.GetProperty("handle").GetString()!).ToList();
    }

    private static async Task<(int Code, string Output, string Error)> Cli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(Program.BuildRoot(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}

/// <summary>The default store: the server and the CLI on one SQLite file, two processes.</summary>
public sealed class SqliteCliRevokeReachesServerTests : CliRevokeReachesServerTests, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-e2e-").FullName;

    protected override string Kind => "sqlite";
    protected override string Connection => Path.Combine(_folder, "bouncer.db");

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisCliRevokeReachesServerTests(RedisServer redis) : CliRevokeReachesServerTests
{
    protected override string Kind => "redis";
    protected override string Connection => redis.Configuration;
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresCliRevokeReachesServerTests(PostgresServer postgres) : CliRevokeReachesServerTests
{
    protected override string Kind => "postgres";
    protected override string Connection => postgres.ConnectionString;
}
