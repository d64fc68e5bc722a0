using System.Text.Json;
using Bouncer.Sessions;
using Bouncer.Stores.Sqlite;
using Bouncer.Tests;

namespace Bouncer.Cli.Tests;

/// <summary>
/// <c>bouncer sessions ...</c> run in-process against a real SQLite file seeded through the engine, the
/// way an operator would point the CLI at an application's database.
/// </summary>
public sealed class SessionsCommandsTests : IDisposable
{
    private static readonly SessionOptions LongLived = new() { IdleTimeout = TimeSpan.FromDays(1), AbsoluteTimeout = TimeSpan.FromDays(2) };

    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-").FullName;
    private readonly string _db;
    private readonly SqliteSessionStore _store;
    private readonly SessionManager _sessions;

    public SessionsCommandsTests()
    {
        _db = Path.Combine(_folder, "sessions.db");
        _store = new SqliteSessionStore(_db);
        // The CLI reads with the system clock, so seeded sessions are live by the system clock too.
        _sessions = new SessionManager(_store, new Bouncer.Revocation.InProcessRevocationChannel(), TimeProvider.System, LongLived);
    }

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task List_User_ShowsOnlyThatUsersSessions()
    {
        var (phone, _) = await _sessions.CreateAsync("alice", null, "phone", default);
        var (laptop, _) = await _sessions.CreateAsync("alice", null, "laptop", default);
        var (bobs, _) = await _sessions.CreateAsync("bob", null, "bob-pc", default);

        var (code, output, error) = await Run("sessions", "list", "--user", "alice", "--connection", _db);

        Assert.Equal(0, code);
        Assert.Empty(error);
        Assert.Contains(phone.Handle, output);
        Assert.Contains(laptop.Handle, output);
        Assert.Contains("laptop", output);
        Assert.DoesNotContain(bobs.Handle, output);
    }

    [Fact]
    public async Task List_Json_IsAnArrayOfSessionsWithDataEmbedded()
    {
        var (phone, _) = await _sessions.CreateAsync("alice", """{"theme":"dark"}""", "phone", default);

        var (code, output, _) = await Run("sessions", "list", "--user", "alice", "--json", "--store", "sqlite", "--connection", $"Data Source={_db}");

        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        var only = Assert.Single(doc.RootElement.EnumerateArray().ToList());
        Assert.Equal(phone.Handle, only.GetProperty("handle").GetString());
        Assert.Equal("alice", only.GetProperty("userId").GetString());
        Assert.Equal("dark", only.GetProperty("data").GetProperty("theme").GetString());
        Assert.Equal(phone.ExpiresAt, only.GetProperty("expiresAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task List_NoSessions_SaysSoAndSucceeds()
    {
        var (code, output, _) = await Run("sessions", "list", "--user", "nobody", "--connection", _db);

        Assert.Equal(0, code);
        Assert.Contains("no live sessions", output);
    }

    [Fact]
    public async Task Revoke_User_RemovesAllTheirSessions_OthersKept()
    {
        var (_, a1) = await _sessions.CreateAsync("alice", default);
        var (_, a2) = await _sessions.CreateAsync("alice", default);
        var (_, bob) = await _sessions.CreateAsync("bob", default);

        var (code, output, _) = await Run("sessions", "revoke", "--user", "alice", "--connection", _db);

        Assert.Equal(0, code);
        Assert.Contains("revoked 2", output);
        Assert.Null(await _sessions.GetAsync(a1, default));
        Assert.Null(await _sessions.GetAsync(a2, default));
        Assert.NotNull(await _sessions.GetAsync(bob, default));
    }

    [Fact]
    public async Task Revoke_SessionId_DeletesThatSessionOnly()
    {
        var (_, target) = await _sessions.CreateAsync("alice", default);
        var (_, other) = await _sessions.CreateAsync("alice", default);

        var (code, _, _) = await Run("sessions", "revoke", "--id", target, "--connection", _db);

        Assert.Equal(0, code);
        Assert.Null(await _sessions.GetAsync(target, default));
        Assert.NotNull(await _sessions.GetAsync(other, default));
    }

    [Fact]
    public async Task Revoke_HandleWithOwner_Deletes_HandleWithOtherUser_DoesNot()
    {
        var (session, id) = await _sessions.CreateAsync("alice", default);

        var (wrongUser, _, _) = await Run("sessions", "revoke", "--user", "mallory", "--id", session.Handle, "--connection", _db);
        Assert.Equal(1, wrongUser);
        Assert.NotNull(await _sessions.GetAsync(id, default));

        var (code, output, _) = await Run("sessions", "revoke", "--user", "alice", "--id", session.Handle, "--connection", _db);
        Assert.Equal(0, code);
        Assert.Contains("revoked 1", output);
        Assert.Null(await _sessions.GetAsync(id, default));
    }

    [Fact]
    public async Task Revoke_UnknownId_ExitsOne()
    {
        var (code, output, _) = await Run("sessions", "revoke", "--id", SessionId.New().Id, "--connection", _db);

        Assert.Equal(1, code);
        Assert.Contains("no such session", output);
    }

    [Fact]
    public async Task Sweep_RemovesExpiredOnly_ReportingEachBatch()
    {
        // Created three days ago on a fake clock: expired by the system clock the CLI uses.
        var past = new SessionManager(_store, new Bouncer.Revocation.InProcessRevocationChannel(), new ManualClock(DateTimeOffset.UtcNow.AddDays(-3)), LongLived);
        for (var i = 0; i < 5; i++) await past.CreateAsync("old" + i, default);
        var (_, live) = await _sessions.CreateAsync("alice", default);

        var (code, output, _) = await Run("sessions", "sweep", "--batch-size", "2", "--connection", _db);

        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["swept 2...", "swept 4...", "swept 5...", "swept 5 expired session(s)"], lines);
        Assert.NotNull(await _sessions.GetAsync(live, default));
        Assert.Equal(0, await _store.SweepAsync(DateTimeOffset.UtcNow, 100, default));
    }

    [Theory]
    [InlineData("sessions", "list", "--connection", "x.db")]                                 // --user missing
    [InlineData("sessions", "revoke", "--connection", "x.db")]                               // neither --user nor --id
    [InlineData("sessions", "list", "--user", "a", "--store", "mongo", "--connection", "x")] // unknown store
    [InlineData("sessions", "sweep", "--batch-size", "0", "--connection", "x.db")]
    [InlineData("sessions", "sweep", "--bogus")]
    [InlineData("sessions", "list", "--user", "alice")]                                      // sqlite needs --connection
    [InlineData("sessions", "list", "--user", "", "--store", "memory")]                      // empty user id
    [InlineData("sessions", "list", "--user", "a", "--store", "redis", "--connection", "127.0.0.1:1")]  // nothing listens on port 1
    public async Task BadArguments_ExitTwo_WithOneLineError(params string[] args)
    {
        var (code, output, error) = await Run(args);

        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.StartsWith("error: ", error);
        Assert.DoesNotContain("   at ", error);   // no stack trace
    }

    [Fact]
    public async Task UnreadableStore_CorruptFile_ExitTwo_OneLineNamingThePath()
    {
        var garbage = Path.Combine(_folder, "garbage.db");
        await File.WriteAllBytesAsync(garbage, Enumerable.Repeat((byte)'x', 4096).ToArray());

        var (code, output, error) = await Run("sessions", "list", "--user", "alice", "--connection", garbage);

        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(garbage, error);
    }

    [Fact]
    public async Task UnreadableStore_MissingFile_ExitTwo_AndNoFileCreated()
    {
        var missing = Path.Combine(_folder, "typo.db");

        var (code, _, error) = await Run("sessions", "sweep", "--connection", missing);

        Assert.Equal(2, code);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(missing, error);
        Assert.False(File.Exists(missing));
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(Program.BuildRoot(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
