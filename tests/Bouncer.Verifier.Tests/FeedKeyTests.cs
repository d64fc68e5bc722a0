using System.Net;

namespace Bouncer.Verifier.Tests;

/// <summary>A server that guards its revocation feed with a key, and a downstream configured with it.</summary>
public sealed class FeedKeyTests
{
    [Fact]
    public async Task Downstream_WithTheFeedKey_ReadsTheFeed_AndRevocationReachesIt()
    {
        await using var server = await BouncerServer.StartAsync("--Bouncer:RevocationFeedKey", "feed-key-for-tests");
        await using var downstream = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, server.BaseUrl);
            o.RevocationFeedKey = "feed-key-for-tests";
        });
        var user = "u" + Guid.NewGuid().ToString("N")[..12];
        var token = await server.RegisterAndLoginAsync(user);
        Assert.Equal((HttpStatusCode.OK, user), await downstream.CallAsync(token));

        using (var logout = await server.PostAsync("/auth/logout-all", token))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        Assert.Equal((HttpStatusCode.Unauthorized, "token_revoked"),
            await downstream.PollUntilAsync(token, HttpStatusCode.Unauthorized, "token_revoked", TimeSpan.FromSeconds(5)));
    }
}
