using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.Revocation;

namespace Bouncer.Verifier.Tests;

[Collection(ServerCollection.Name)]
public sealed class DownstreamTests(ServerFixture fixture)
{
    // The propagation bound asserted here: a long-poll push normally lands in milliseconds.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    private BouncerServer Server => fixture.Server;

    private static string NewUser() => "u" + Guid.NewGuid().ToString("N")[..12];

    private async Task AssertBothRefuseAsync(string token, string reason)
    {
        foreach (var downstream in new[] { fixture.First, fixture.Second })
        {
            var (status, value) = await downstream.PollUntilAsync(token, HttpStatusCode.Unauthorized, reason, Bound);
            Assert.Equal((HttpStatusCode.Unauthorized, reason), (status, value));
        }
    }

    private async Task AssertBothAcceptAsync(string token, string user)
    {
        Assert.Equal((HttpStatusCode.OK, user), await fixture.First.CallAsync(token));
        Assert.Equal((HttpStatusCode.OK, user), await fixture.Second.CallAsync(token));
    }

    [Fact]
    public async Task Verify_ServerToken_AcceptedAtBothDownstreams()
    {
        var user = NewUser();
        var token = await Server.RegisterAndLoginAsync(user);
        await AssertBothAcceptAsync(token, user);
    }

    [Fact]
    public async Task LogoutAll_OnServer_BothDownstreamsRefuseWithTokenRevoked()
    {
        var user = NewUser();
        var token = await Server.RegisterAndLoginAsync(user);
        await AssertBothAcceptAsync(token, user);

        Assert.Equal(HttpStatusCode.NoContent, (await Server.PostAsync("/auth/logout-all", token)).StatusCode);

        await AssertBothRefuseAsync(token, "token_revoked");
    }

    [Fact]
    public async Task RefreshReuse_OnServer_BothDownstreamsRefuseTheFamily()
    {
        var user = NewUser();
        await Server.RegisterAsync(user);
        var (access, refresh) = await Server.LoginAsync(user);
        await AssertBothAcceptAsync(access, user);

        Assert.Equal(HttpStatusCode.OK, (await Server.RefreshAsync(refresh)).StatusCode);
        // RFC 9700 4.14.2: presenting the rotated-out refresh token again revokes the whole family (its sid).
        Assert.Equal(HttpStatusCode.Unauthorized, (await Server.RefreshAsync(refresh)).StatusCode);

        await AssertBothRefuseAsync(access, "token_revoked");
    }

    [Fact]
    public async Task AdminRevoke_OnServer_BothDownstreamsRefuse()
    {
        var user = NewUser();
        var token = await Server.RegisterAndLoginAsync(user);
        await AssertBothAcceptAsync(token, user);

        Assert.Equal(HttpStatusCode.NoContent, (await Server.PostAsync($"/admin/users/{user}/revoke", fixture.AdminToken)).StatusCode);

        await AssertBothRefuseAsync(token, "token_revoked");
    }

    [Theory]
    [InlineData("e30.eyJpc3MiOiJcdWQ4MDAifQ.AAAA")]        // payload {"iss":"\ud800"}: the issuer peek
    [InlineData("eyJcdWQ4MDAiOjF9.e30.AAAA")]              // header {"\ud800":1}
    [InlineData("e30.eyJcdWQ4MDAiOjF9.AAAA")]              // payload {"\ud800":1}
    public async Task Verify_LoneSurrogateToken_Is401NotA500(string token)
    {
        var (status, _) = await fixture.First.CallAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Revocation_OfOtherUser_LeavesTokenAccepted()
    {
        var user = NewUser();
        var other = NewUser();
        var token = await Server.RegisterAndLoginAsync(user);
        var otherToken = await Server.RegisterAndLoginAsync(other);
        await Server.PostAsync("/auth/logout-all", otherToken);
        await AssertBothRefuseAsync(otherToken, "token_revoked");
        await AssertBothAcceptAsync(token, user);
    }

    [Fact]
    public async Task RotateKeys_OnServer_NewKeyAcceptedWithoutRestartAndOldTokensStillPass()
    {
        var user = NewUser();
        var oldToken = await Server.RegisterAndLoginAsync(user);
        var oldKid = Kid(oldToken);

        var response = await Server.PostAsync("/admin/keys/rotate", fixture.AdminToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var newKid = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("kid").GetString();
        Assert.NotEqual(oldKid, newKid);

        // The new key signs once its pre-publication delay has passed.
        string newToken = oldToken;
        var deadline = DateTime.UtcNow + BouncerServer.PrePublication + TimeSpan.FromSeconds(10);
        while (Kid(newToken) != newKid && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            newToken = (await Server.LoginAsync(user)).Access;
        }
        Assert.Equal(newKid, Kid(newToken));

        foreach (var downstream in new[] { fixture.First, fixture.Second })
        {
            Assert.Equal((HttpStatusCode.OK, user), await downstream.PollUntilAsync(newToken, HttpStatusCode.OK, user, Bound));
            Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(oldToken));
        }
    }

    [Fact]
    public async Task RotateKeys_ScheduledRefreshBeforeKeySigns_FirstNewTokenAcceptedAtOnce()
    {
        await using var downstream = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, Server.BaseUrl);
            o.JwksRefreshInterval = TimeSpan.FromSeconds(1);
            // No unknown-kid rescue: only the schedule can have brought the new key.
            o.UnknownKidRefreshInterval = TimeSpan.FromHours(1);
        });
        var user = NewUser();
        var oldToken = await Server.RegisterAndLoginAsync(user);
        var keys = downstream.Verifier.KeysOf(downstream.Verifier.AuthorityIssuer!)!;
        // Poison the unknown-kid limiter so a refresh can only come from the schedule.
        keys.OnUnknownKid();

        var response = await Server.PostAsync("/admin/keys/rotate", fixture.AdminToken);
        var newKid = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("kid").GetString();
        // Loads counts refreshes as they start, one at a time: two more means one began after the rotation and finished.
        int loads = keys.Loads;
        await WaitUntilAsync(() => keys.Loads >= loads + 2, "the scheduled refresh did not run");

        string newToken = oldToken;
        var deadline = DateTime.UtcNow + BouncerServer.PrePublication + TimeSpan.FromSeconds(10);
        while (Kid(newToken) != newKid && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            newToken = (await Server.LoginAsync(user)).Access;
        }
        Assert.Equal(newKid, Kid(newToken));
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(newToken));
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(oldToken));
    }

    [Fact]
    public async Task KeyRevoke_OnServer_DownstreamsRefuseItsTokensThroughTheFeed_AndAcceptTheReplacementsTokens()
    {
        // Its own server: revoking the signing key kills every token the shared fixture holds.
        await using var server = await BouncerServer.StartAsync();
        await server.RegisterAsync(BouncerServer.Admin);
        var admin = (await server.LoginAsync(BouncerServer.Admin)).Access;
        await using var downstream = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, server.BaseUrl);
            // No scheduled JWKS refresh: only the feed's announcement can tell this verifier the key is gone.
            o.JwksRefreshInterval = TimeSpan.FromHours(1);
        });
        var user = NewUser();
        var token = await server.RegisterAndLoginAsync(user);
        var compromised = Kid(token);
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(token));

        var response = await server.PostAsync($"/admin/keys/{compromised}/revoke", admin);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var (status, _) = await downstream.PollUntilAsync(token, HttpStatusCode.Unauthorized, null, Bound);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.True(downstream.Verifier.Revocations!.Set.IsKeyRevoked(compromised));
        // The announcement also made the verifier re-read the JWKS: the replacement's first token passes at once.
        var fresh = (await server.LoginAsync(user)).Access;
        Assert.NotEqual(compromised, Kid(fresh));
        Assert.Equal((HttpStatusCode.OK, user), await downstream.PollUntilAsync(fresh, HttpStatusCode.OK, user, Bound));
        Assert.Equal(HttpStatusCode.Unauthorized, (await downstream.CallAsync(token)).Status);
    }

    [Fact]
    public async Task RotateKeys_NotAdmin_IsForbidden()
    {
        var token = await Server.RegisterAndLoginAsync(NewUser());
        Assert.Equal(HttpStatusCode.Forbidden, (await Server.PostAsync("/admin/keys/rotate", token)).StatusCode);
    }

    [Fact]
    public async Task Call_WithoutToken_Is401WithBearerChallenge()
    {
        using var response = await fixture.First.SendAsync(null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer realm=\"bouncer\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("credential_missing", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Call_TamperedToken_Is401InvalidTokenWithReason()
    {
        var token = await Server.RegisterAndLoginAsync(NewUser());
        var tampered = token[..^4] + (token[^4] == 'A' ? "BBBB" : "AAAA");
        using var response = await fixture.First.SendAsync(tampered);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer realm=\"bouncer\", error=\"invalid_token\", error_description=\"bad_signature\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("bad_signature", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reason").GetString());
    }

    [Fact]
    public async Task FeedCut_RevokedWhileCut_RefusedAfterRestore()
    {
        // Behind a proxy the server's discovery must name the proxy: its own PublicOrigin, as an operator sets it.
        var (server, proxy) = await ProxiedServerAsync();
        await using var ownServer = server;
        await using var ownProxy = proxy;
        await using var downstream = await Downstream.StartAsync(o => ServerFixture.Configure(o, proxy.BaseUrl));
        var user = NewUser();
        var token = await server.RegisterAndLoginAsync(user);
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(token));

        await proxy.CutAsync();
        await WaitUntilAsync(() => !downstream.Verifier.Revocations!.IsConnected, "the downstream never noticed the cut");
        Assert.Equal(HttpStatusCode.NoContent, (await server.PostAsync("/auth/logout-all", token)).StatusCode);
        proxy.Restore();

        // The long-poll resumes from its cursor and the listener replays from its own: the revocation is not lost.
        Assert.Equal((HttpStatusCode.Unauthorized, "token_revoked"),
            await downstream.PollUntilAsync(token, HttpStatusCode.Unauthorized, "token_revoked", Bound + TimeSpan.FromSeconds(5)));
        Assert.True(downstream.Verifier.Revocations!.IsConnected);
    }

    [Fact]
    public async Task FeedCut_RefusePolicy_RefusesStaleThenAcceptsAfterRestore()
    {
        // Behind a proxy the server's discovery must name the proxy: its own PublicOrigin, as an operator sets it.
        var (server, proxy) = await ProxiedServerAsync();
        await using var ownServer = server;
        await using var ownProxy = proxy;
        await using var downstream = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, proxy.BaseUrl);
            o.Revocation = new RevocationOptions { Policy = StalenessPolicy.Refuse, StaleAfter = TimeSpan.FromSeconds(1) };
        });
        var user = NewUser();
        var token = await server.RegisterAndLoginAsync(user);
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(token));

        await proxy.CutAsync();
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "revocation_state_stale"),
            await downstream.PollUntilAsync(token, HttpStatusCode.ServiceUnavailable, "revocation_state_stale", Bound));

        proxy.Restore();
        Assert.Equal((HttpStatusCode.OK, user), await downstream.PollUntilAsync(token, HttpStatusCode.OK, user, Bound + TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task FeedHangs_RefusePolicy_GoesStaleFromTheMissingHeartbeat_ThenRecovers()
    {
        // A connection that stays open but goes silent (no reset): without heartbeats the verifier noticed only at
        // the long poll's deadline (wait 25 s + timeout 10 s) and kept saying "fresh" until then.
        // Behind a proxy the server's discovery must name the proxy: its own PublicOrigin, as an operator sets it.
        var (server, proxy) = await ProxiedServerAsync();
        await using var ownServer = server;
        await using var ownProxy = proxy;
        await using var downstream = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, proxy.BaseUrl);
            o.Revocation = new RevocationOptions { Policy = StalenessPolicy.Refuse, StaleAfter = TimeSpan.FromSeconds(1) };
        });
        var user = NewUser();
        var token = await server.RegisterAndLoginAsync(user);
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(token));
        await Task.Delay(TimeSpan.FromSeconds(2.5));   // the poll is now held on the server and has had its first beats

        proxy.Freeze();
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "revocation_state_stale"),
            await downstream.PollUntilAsync(token, HttpStatusCode.ServiceUnavailable, "revocation_state_stale", TimeSpan.FromSeconds(15)));

        proxy.Thaw();
        Assert.Equal((HttpStatusCode.OK, user), await downstream.PollUntilAsync(token, HttpStatusCode.OK, user, TimeSpan.FromSeconds(20)));
    }

    private static async Task<(BouncerServer Server, TcpProxy Proxy)> ProxiedServerAsync()
    {
        var port = BouncerServer.FreePort();
        var proxy = new TcpProxy(port);
        return (await BouncerServer.StartOnAsync(port, "--Bouncer:PublicOrigin", proxy.BaseUrl), proxy);
    }

    [Fact]
    public async Task FeedCut_FallBackPolicyServerUnreachable_RefusesStale()
    {
        // Behind a proxy the server's discovery must name the proxy: its own PublicOrigin, as an operator sets it.
        var (server, proxy) = await ProxiedServerAsync();
        await using var ownServer = server;
        await using var ownProxy = proxy;
        await using var downstream = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, proxy.BaseUrl);
            o.Revocation = new RevocationOptions { Policy = StalenessPolicy.FallBackToStore, StaleAfter = TimeSpan.FromSeconds(1) };
        });
        var user = NewUser();
        var token = await server.RegisterAndLoginAsync(user);
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(token));

        // Stale, and the fallback (asking the server) fails too: fail closed.
        await proxy.CutAsync();
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "revocation_state_stale"),
            await downstream.PollUntilAsync(token, HttpStatusCode.ServiceUnavailable, "revocation_state_stale", Bound));
    }

    [Fact]
    public async Task Start_RevokedBeforeDownstreamStarted_IsRefused()
    {
        var user = NewUser();
        var token = await Server.RegisterAndLoginAsync(user);
        await Server.PostAsync("/auth/logout-all", token);
        await using var late = await Downstream.StartAsync(o => ServerFixture.Configure(o, Server.BaseUrl));
        Assert.Equal((HttpStatusCode.Unauthorized, "token_revoked"), await late.CallAsync(token));
    }

    [Fact]
    public async Task RoleEndpoint_AdminToken_IsAcceptedAndUserTokenForbidden()
    {
        using (var admin = await fixture.First.SendAsync(fixture.AdminToken, "/admin-only"))
            Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        var token = await Server.RegisterAndLoginAsync(NewUser());
        using var user = await fixture.First.SendAsync(token, "/admin-only");
        Assert.Equal(HttpStatusCode.Forbidden, user.StatusCode);
        Assert.Equal("Bearer realm=\"bouncer\", error=\"insufficient_scope\"", user.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task VerifyAsync_FreshStateValidToken_CompletesSynchronously()
    {
        var user = NewUser();
        var token = await Server.RegisterAndLoginAsync(user);
        // Synchronous completion means no I/O: verification reads only in-memory keys and revocation state.
        var pending = fixture.First.Verifier.VerifyAsync(token, default);
        Assert.True(pending.IsCompletedSuccessfully);
        Assert.Equal(user, (await pending).Claims.Subject);
    }

    [Fact]
    public async Task ReadAfterAsync_AfterRevocations_ReturnsThemInOrderUpToMax()
    {
        var first = await Server.RegisterAndLoginAsync(NewUser());
        var second = await Server.RegisterAndLoginAsync(NewUser());
        using var http = new HttpClient();
        var channel = new HttpRevocationChannel(http, new Uri(Server.BaseUrl + "/auth/revocations"));
        var head = (await channel.ReadAfterAsync(0, 100_000, default)).LastOrDefault().Cursor;
        await Server.PostAsync("/auth/logout-all", first);
        await Server.PostAsync("/auth/logout-all", second);

        var page = await channel.ReadAfterAsync(head, 100_000, default);
        Assert.True(page.Count >= 2);
        Assert.Equal(page.Select(e => e.Cursor).Order(), page.Select(e => e.Cursor));
        Assert.All(page, e => Assert.True(e.Cursor > head));
        Assert.Contains(page, e => e.Revocation.Kind == RevocationKind.User);
        Assert.Single(await channel.ReadAfterAsync(head, 1, default));
    }

    [Fact]
    public async Task Verify_AuthorityAndOutsideIssuerTogether_EachAcceptedOnlyWithItsOwnKeys()
    {
        await using var outside = await OutsideIssuer.StartAsync("https://partner.example", "p-1");
        await using var downstream = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, Server.BaseUrl);
            o.AddIssuer(outside.Trusted("bouncer"));
        });
        var user = NewUser();
        var token = await Server.RegisterAndLoginAsync(user);
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(token));
        Assert.Equal((HttpStatusCode.OK, "outside-user"), await downstream.CallAsync(outside.Mint("bouncer")));

        // The partner's key claiming to be the Bouncer server: judged by the server's keys and rules only.
        var issuer = downstream.Verifier.AuthorityIssuer!;
        Assert.Equal((HttpStatusCode.Unauthorized, "unknown_kid"), await downstream.CallAsync(outside.Mint("bouncer", iss: issuer, typ: "at+jwt")));
        // Naming the server's kid: refused by that key's alg pin (server on ES256) or by its signature check (RS256).
        var (status, reason) = await downstream.CallAsync(outside.Mint("bouncer", iss: issuer, typ: "at+jwt", kid: Kid(token)));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains(reason, new[] { "alg_not_allowed", "bad_signature" });
    }

    private static string Kid(string token)
    {
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(token.AsSpan(0, token.IndexOf('.'))));
        return header.RootElement.GetProperty("kid").GetString()!;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string message)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail(message);
            await Task.Delay(20);
        }
    }
}
