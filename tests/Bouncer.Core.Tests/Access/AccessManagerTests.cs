using Bouncer.Access;
using Bouncer.Diagnostics;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Tests;
using Bouncer.Users;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Core.Tests.Access;

/// <summary>
/// Access changes made on instance A, seen on instance B: two engines composed as every entry point composes them,
/// sharing one set of stores and one revocation channel, each with its own near cache and listener.
/// </summary>
public sealed class AccessManagerTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private readonly ManualClock _clock = new();
    private readonly BouncerStores _shared = BouncerStores.InMemory();
    private ServiceProvider _a = null!;
    private ServiceProvider _b = null!;

    public async Task InitializeAsync()
    {
        _a = await StartAsync();
        _b = await StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private async Task<ServiceProvider> StartAsync()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddBouncerCore().UseStores(_ => _shared);
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<Hosting.BouncerEngineService>().StartAsync(default);
        return provider;
    }

    private static T On<T>(ServiceProvider instance) where T : notnull => instance.GetRequiredService<T>();

    private async Task<string> CreateAsync(string name, string roles)
    {
        var (outcome, _) = await On<AccessManager>(_a).CreateUserAsync(name, Password, roles, "test", default);
        Assert.Equal(UserOutcome.Ok, outcome);
        return name;
    }

    [Fact]
    public async Task RolesChangedOnA_SessionChecksOnB_SeeTheNewRolesAtOnce()
    {
        var alice = await CreateAsync("alice", "admin");
        var (_, id) = await On<SessionManager>(_b).CreateAsync(alice, default);
        Assert.NotNull(await On<SessionManager>(_b).GetAsync(id, default));
        Assert.Equal("admin", (await On<UserDirectory>(_b).GetAsync(alice, default))!.Roles);   // cached on B now

        Assert.Equal(UserOutcome.Ok, await On<AccessManager>(_a).SetRolesAsync(alice, "", default));

        Assert.NotNull(await On<SessionManager>(_b).GetAsync(id, default));   // the session lives on
        Assert.Equal("", (await On<UserDirectory>(_b).GetAsync(alice, default))!.Roles);   // with the new roles
    }

    [Fact]
    public async Task RolesChanged_TokensMintedBeforeAreRefused_AndTheRefreshCarriesTheAccountsRoles()
    {
        var alice = await CreateAsync("alice", "admin");
        var login = await On<RefreshTokenService>(_b).IssueAsync(alice, "admin", default);
        _clock.Advance(TimeSpan.FromSeconds(2));

        await On<AccessManager>(_a).SetRolesAsync(alice, "support", default);

        var b = On<RevocationListener>(_b);
        Assert.True(b.Set.IsRevoked(login.Access!.Sid, login.Access.Jti, alice, login.Access.IssuedAt.ToUnixTimeSeconds()));
        _clock.Advance(TimeSpan.FromSeconds(1));
        var next = await On<RefreshTokenService>(_b).RefreshAsync(login.RefreshToken, default);
        Assert.Equal(RefreshOutcome.Issued, next.Outcome);
        Assert.Equal("support", next.Access!.Scope);   // read from the account, never the family's "admin"
        Assert.False(b.Set.IsRevoked(next.Access.Sid, next.Access.Jti, alice, next.Access.IssuedAt.ToUnixTimeSeconds()));
    }

    [Fact]
    public async Task RolesChanged_InTheSameSecondATokenWasMinted_StillRefusesIt_AndMintsTheNextOneAfterTheCutOff()
    {
        // iat has whole seconds: a cut-off at the change's own second would let a token minted earlier in it through.
        var alice = await CreateAsync("alice", "admin");
        _clock.Advance(TimeSpan.FromMilliseconds(200));
        var login = await On<RefreshTokenService>(_b).IssueAsync(alice, "admin", default);
        _clock.Advance(TimeSpan.FromMilliseconds(200));

        await On<AccessManager>(_a).SetRolesAsync(alice, "", default);
        _clock.Advance(TimeSpan.FromMilliseconds(200));   // still the same second

        var b = On<RevocationListener>(_b).Set;
        Assert.Equal(login.Access!.IssuedAt.ToUnixTimeSeconds(), _clock.GetUtcNow().ToUnixTimeSeconds());
        Assert.True(b.IsRevoked(login.Access.Sid, login.Access.Jti, alice, login.Access.IssuedAt.ToUnixTimeSeconds()));
        var next = await On<RefreshTokenService>(_b).RefreshAsync(login.RefreshToken, default);
        Assert.True(next.Succeeded);
        Assert.False(b.IsRevoked(next.Access!.Sid, next.Access.Jti, alice, next.Access.IssuedAt.ToUnixTimeSeconds()));
        Assert.Null(next.Access.Scope);
    }

    [Fact]
    public async Task SuspendedOnA_EveryCredentialIsRefusedOnB_AndLoginFails()
    {
        var alice = await CreateAsync("alice", "");
        var (_, id) = await On<SessionManager>(_b).CreateAsync(alice, default);
        Assert.NotNull(await On<SessionManager>(_b).GetAsync(id, default));   // in B's near cache
        var login = await On<RefreshTokenService>(_b).IssueAsync(alice, null, default);
        _clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(UserOutcome.Ok, await On<AccessManager>(_a).SuspendAsync(alice, default));

        Assert.Null(await On<SessionManager>(_b).GetAsync(id, default));
        Assert.True(On<RevocationListener>(_b).Set.IsRevoked(login.Access!.Sid, login.Access.Jti, alice, login.Access.IssuedAt.ToUnixTimeSeconds()));
        Assert.False((await On<RefreshTokenService>(_b).RefreshAsync(login.RefreshToken, default)).Succeeded);
        Assert.Equal(UserOutcome.Suspended, (await On<UserService>(_b).AuthenticateAsync(alice, Password, default)).Outcome);

        Assert.Equal(UserOutcome.Ok, await On<AccessManager>(_a).UnsuspendAsync(alice, default));
        Assert.Equal(UserOutcome.Ok, (await On<UserService>(_b).AuthenticateAsync(alice, Password, default)).Outcome);
    }

    [Fact]
    public async Task RevokeUser_OnA_AnnouncesTheCutOffsFirst_ThenEveryFamilyAndSession_AndBRefusesThemAll()
    {
        var alice = await CreateAsync("alice", "");
        var bob = await CreateAsync("bob", "");
        var (_, first) = await On<SessionManager>(_b).CreateAsync(alice, default);
        var (_, second) = await On<SessionManager>(_b).CreateAsync(alice, default);
        var (_, bobs) = await On<SessionManager>(_b).CreateAsync(bob, default);
        Assert.NotNull(await On<SessionManager>(_b).GetAsync(first, default));   // in B's near cache
        var family = await On<RefreshTokenService>(_b).IssueAsync(alice, null, default);
        var before = (await _shared.Revocations.ReadAfterAsync(0, 1000, default)).Select(e => e.Cursor).DefaultIfEmpty(0).Max();

        Assert.Equal(2, await On<AccessManager>(_a).RevokeUserAsync(alice, "logout_all", default));

        var announced = (await _shared.Revocations.ReadAfterAsync(before, 1000, default)).Select(e => e.Revocation).ToArray();
        // The cut-offs alone refuse every earlier token and session on every instance, so each goes out before the
        // records that wait for the store: the user cut-off before the family's, the sign-out before the sessions'.
        var cutOff = Array.FindIndex(announced, r => r.Kind == RevocationKind.User && r.Subject == alice);
        var signOut = Array.FindIndex(announced, r => r.Kind == RevocationKind.SignOut && r.Subject == alice);
        var familyEnd = Array.FindIndex(announced, r => r.Kind == RevocationKind.Session && r.Subject == family.Access!.Sid);
        var sessionEnds = announced.Select((r, i) => (r, i)).Where(x => x.r.Kind == RevocationKind.Session && x.r.Subject != family.Access!.Sid).Select(x => x.i).ToArray();
        Assert.True(cutOff >= 0 && signOut >= 0 && familyEnd > cutOff, string.Join(", ", announced.Select(r => r.Kind)));
        Assert.Equal(2, sessionEnds.Length);
        Assert.All(sessionEnds, i => Assert.True(i > signOut));
        Assert.DoesNotContain(announced, r => r.Subject == bob);
        Assert.Null(await On<SessionManager>(_b).GetAsync(first, default));
        Assert.Null(await On<SessionManager>(_b).GetAsync(second, default));
        Assert.NotNull(await On<SessionManager>(_b).GetAsync(bobs, default));
        Assert.True(On<RevocationListener>(_b).Set.IsRevoked(family.Access!.Sid, family.Access.Jti, alice, family.Access.IssuedAt.ToUnixTimeSeconds()));
        Assert.False((await On<RefreshTokenService>(_b).RefreshAsync(family.RefreshToken, default)).Succeeded);
    }

    [Fact]
    public async Task ASignOutAnnouncedBeforeItsStoreRevoke_RefusesARefreshOfAnEarlierFamilyOnB_NotALaterLogin()
    {
        var alice = await CreateAsync("alice", "");
        var login = await On<RefreshTokenService>(_b).IssueAsync(alice, null, default);
        // As A's logout everywhere does before it revokes the families in the store; stamped by a clock 50 ms ahead.
        var at = _clock.GetUtcNow().AddMilliseconds(50);
        await _shared.Revocations.PublishAsync(new RevocationRecord(RevocationKind.SignOut, alice, at, at.AddMinutes(20)), default);

        Assert.Equal(RefreshOutcome.Revoked, (await On<RefreshTokenService>(_b).RefreshAsync(login.RefreshToken, default)).Outcome);
        Assert.True((await On<RefreshTokenService>(_a).FindAsync(login.RefreshToken, default))!.Revoked);   // durably, for A too
        var later = await On<RefreshTokenService>(_b).IssueAsync(alice, null, default);
        Assert.True((await On<RefreshTokenService>(_b).RefreshAsync(later.RefreshToken, default)).Succeeded);
    }

    [Fact]
    public async Task SuspendedBetweenChecks_ARefreshOfAFamilyThatSurvivedIsRefusedAsSuspended()
    {
        // A family whose revocation announcement was missed still meets the account at refresh time.
        var alice = await CreateAsync("alice", "");
        var login = await On<RefreshTokenService>(_b).IssueAsync(alice, null, default);
        var user = (await _shared.Users.GetAsync(alice, default))!;
        await _shared.Users.UpdateAsync(user with { Suspended = true }, default);   // behind the engine's back
        On<UserDirectory>(_b).Evict(alice);

        var refused = await On<RefreshTokenService>(_b).RefreshAsync(login.RefreshToken, default);

        Assert.Equal(RefreshOutcome.UserSuspended, refused.Outcome);
        Assert.Equal("user_suspended", refused.ReasonCode);
        Assert.Equal(RefreshOutcome.Revoked, (await On<RefreshTokenService>(_b).RefreshAsync(login.RefreshToken, default)).Outcome);
    }

    [Fact]
    public async Task PasswordChange_RotatesTheCallersSession_EndsTheOthersAndEveryFamily()
    {
        var alice = await CreateAsync("alice", "");
        var sessions = On<SessionManager>(_b);
        var (_, mine) = await sessions.CreateAsync(alice, default);
        var (_, other) = await sessions.CreateAsync(alice, default);
        var family = await On<RefreshTokenService>(_b).IssueAsync(alice, null, default);

        var change = await On<AccessManager>(_a).ChangePasswordAsync(alice, Password, "a brand new password", signOutOthers: true, mine, reissueTokens: false, default);

        Assert.Equal(UserOutcome.Ok, change.Outcome);
        Assert.NotNull(change.SessionId);
        Assert.Null(await sessions.GetAsync(mine, default));             // the old id is dead
        Assert.NotNull(await sessions.GetAsync(change.SessionId, default));   // the caller carries on under a new one
        Assert.Null(await sessions.GetAsync(other, default));
        Assert.False((await On<RefreshTokenService>(_b).RefreshAsync(family.RefreshToken, default)).Succeeded);
        Assert.Equal(UserOutcome.InvalidCredentials, (await On<UserService>(_b).AuthenticateAsync(alice, Password, default)).Outcome);
        Assert.Equal(UserOutcome.Ok, (await On<UserService>(_b).AuthenticateAsync(alice, "a brand new password", default)).Outcome);
    }

    [Fact]
    public async Task PasswordChange_WrongCurrentPassword_ChangesNothing()
    {
        var alice = await CreateAsync("alice", "");
        var (_, mine) = await On<SessionManager>(_b).CreateAsync(alice, default);

        var change = await On<AccessManager>(_a).ChangePasswordAsync(alice, "not the password", "a brand new password", true, mine, false, default);

        Assert.Equal(UserOutcome.InvalidCredentials, change.Outcome);
        Assert.NotNull(await On<SessionManager>(_b).GetAsync(mine, default));
        Assert.Equal(UserOutcome.Ok, (await On<UserService>(_b).AuthenticateAsync(alice, Password, default)).Outcome);
    }

    [Fact]
    public async Task RevokeEveryone_RefusesEverySessionFamilyAndTokenFromBefore_NotLaterOnes()
    {
        var alice = await CreateAsync("alice", "");
        var bob = await CreateAsync("bob", "");
        var (_, aliceSession) = await On<SessionManager>(_b).CreateAsync(alice, default);
        Assert.NotNull(await On<SessionManager>(_b).GetAsync(aliceSession, default));
        var bobFamily = await On<RefreshTokenService>(_b).IssueAsync(bob, null, default);
        _clock.Advance(TimeSpan.FromSeconds(2));

        await On<AccessManager>(_a).RevokeEveryoneAsync("incident", default);
        _clock.Advance(TimeSpan.FromSeconds(1));

        var b = On<RevocationListener>(_b);
        Assert.Null(await On<SessionManager>(_b).GetAsync(aliceSession, default));
        Assert.False((await On<RefreshTokenService>(_b).RefreshAsync(bobFamily.RefreshToken, default)).Succeeded);
        Assert.True(b.Set.IsRevoked("any-sid", "any-jti", "carol", bobFamily.Access!.IssuedAt.ToUnixTimeSeconds()));
        var (_, later) = await On<SessionManager>(_b).CreateAsync(alice, default);
        Assert.NotNull(await On<SessionManager>(_b).GetAsync(later, default));
        Assert.False(b.Set.IsRevoked("any-sid", "any-jti", "carol", _clock.GetUtcNow().ToUnixTimeSeconds()));
    }

    [Fact]
    public async Task DeletedOnA_SessionsOnBEnd_AndTheAccountIsGone()
    {
        var alice = await CreateAsync("alice", "");
        var (_, id) = await On<SessionManager>(_b).CreateAsync(alice, default);
        Assert.NotNull(await On<SessionManager>(_b).GetAsync(id, default));

        Assert.Equal(UserOutcome.Ok, await On<AccessManager>(_a).DeleteUserAsync(alice, default));

        Assert.Null(await On<SessionManager>(_b).GetAsync(id, default));
        Assert.Null(await On<UserDirectory>(_b).GetAsync(alice, default));
        Assert.Equal(UserOutcome.NotFound, await On<AccessManager>(_a).DeleteUserAsync(alice, default));
        Assert.Equal(UserOutcome.NotFound, await On<AccessManager>(_a).SuspendAsync("nobody", default));
    }

    [Fact]
    public async Task EveryChange_IsKeptInTheAuditTrail_WithItsSubjectAndNoSecrets()
    {
        var alice = await CreateAsync("alice", "");
        var access = On<AccessManager>(_a);
        await access.SetRolesAsync(alice, "admin", default);
        await access.SuspendAsync(alice, default);
        await access.UnsuspendAsync(alice, default);
        await access.UnlockAsync(alice, default);
        await access.ChangePasswordAsync(alice, Password, "a brand new password", true, null, false, default);
        await access.DeleteUserAsync(alice, default);

        var trail = await _shared.Audit.ListAsync(alice, 100, default);
        var kinds = trail.Select(e => e.Kind).ToHashSet();
        foreach (var kind in new[] { AuditEventKind.UserCreated, AuditEventKind.RolesChanged, AuditEventKind.UserSuspended, AuditEventKind.UserUnsuspended,
                     AuditEventKind.UserUnlocked, AuditEventKind.PasswordChanged, AuditEventKind.UserDeleted, AuditEventKind.UserSessionsEnded })
            Assert.Contains(kind, kinds);
        Assert.Equal(AuditEventKind.UserDeleted, trail[0].Kind);   // newest first
        Assert.All(trail, e => Assert.DoesNotContain("brand new", e.Reason + e.Target));
    }

    [Theory]
    [InlineData(new[] { "admin", "support" }, "admin support")]
    [InlineData(new[] { "support", "admin", "admin" }, "admin support")]
    [InlineData(new string[0], "")]
    [InlineData(new[] { "Admin" }, null)]
    [InlineData(new[] { "has space" }, null)]
    [InlineData(new[] { "" }, null)]
    public void NormalizeRoles_SortsDeduplicates_AndRefusesBadNames(string[] roles, string? expected) =>
        Assert.Equal(expected, AccessManager.NormalizeRoles(roles));
}
