using System.Net;
using System.Net.Http.Json;

namespace Bouncer.Server.Tests;

/// <summary><c>POST /auth/password</c>: the caller carries on under a new session id, everyone else is signed out.</summary>
public sealed class PasswordChangeTests
{
    private const string NewPassword = "an entirely new passphrase";

    [Fact]
    public async Task Change_WithSession_RotatesTheCaller_EndsOtherSessionsAndFamilies()
    {
        await using var host = new BouncerHost();
        var mine = await host.LoginSessionAsync("alice");
        var other = await host.LoginSessionAsync("alice", register: false);
        var pair = await host.LoginJwtAsync("alice", register: false);

        using var change = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/password", mine.Cookie,
            new { current_password = Passwords.Good, new_password = NewPassword }));
        Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        var rotated = SetCookie.Find(change, Bouncer.AspNetCore.BouncerDefaults.SessionCookieName);
        Assert.NotNull(rotated);
        Assert.NotEqual(mine.Cookie, rotated.Value);

        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", rotated.Value)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        foreach (var dead in new[] { mine.Cookie, other.Cookie })
            using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", dead)))
                await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "session_invalid");
        using (var refresh = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken }))
            await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, "refresh_token_revoked");
        await host.LoginSessionAsync("alice", NewPassword, register: false);
    }

    [Fact]
    public async Task Change_SignOutOthersFalse_KeepsTheOtherSessions()
    {
        await using var host = new BouncerHost();
        var mine = await host.LoginSessionAsync("alice");
        var other = await host.LoginSessionAsync("alice", register: false);
        using (var change = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/password", mine.Cookie,
            new { current_password = Passwords.Good, new_password = NewPassword, sign_out_others = false })))
            Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        using var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", other.Cookie));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task Change_WithAToken_ReturnsANewPair_AndTheOldFamilyEnds()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        using var change = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/password", pair.AccessToken,
            new { current_password = Passwords.Good, new_password = NewPassword }));
        Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        var next = await TokenPair.ReadAsync(change);
        Assert.NotEqual(pair.RefreshToken, next.RefreshToken);
        using (var old = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken }))
            Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        using (var fresh = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = next.RefreshToken }))
            Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task Change_UnhappyPaths()
    {
        await using var host = new BouncerHost();
        var mine = await host.LoginSessionAsync("alice");
        using (var wrong = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/password", mine.Cookie, new { current_password = "not it at all", new_password = NewPassword })))
            await Problem.AssertAsync(wrong, HttpStatusCode.Unauthorized, "invalid_credentials");
        using (var weak = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/password", mine.Cookie, new { current_password = Passwords.Good, new_password = "short" })))
            await Problem.AssertAsync(weak, HttpStatusCode.BadRequest, "invalid_request");
        using (var missing = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/password", mine.Cookie, new { new_password = NewPassword })))
            await Problem.AssertAsync(missing, HttpStatusCode.BadRequest, "invalid_request");
        using (var anonymous = await host.Client().PostAsJsonAsync("/auth/password", new { current_password = Passwords.Good, new_password = NewPassword }))
            await Problem.AssertAsync(anonymous, HttpStatusCode.Unauthorized, "credential_missing");
        // Nothing above changed the password or ended the session.
        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", mine.Cookie)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        await host.LoginSessionAsync("alice", register: false);
    }
}
