using System.Net;

namespace Bouncer.Verifier.Tests;

/// <summary>A server that guards its revocation feed with a key, and a downstream configured with it.</summary>
public sealed class FeedKeyTests
{
    [Fact]
    public async Task Downstream_WithTheFeedKey_ReadsTheFeed_AndRevocationReachesIt()
    {
        await using var server = await BouncerServer.StartAsync("--Bouncer:RevocationFeedKey", "feed-key-for-tests", "--Bouncer:RevocationFeedAccess", "KeyRequired");
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

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("feed-key-for-test")]    // one char short
    [InlineData("feed-key-for-testz")]   // same length, last char differs
    [InlineData("feed-key-for-tests-and-more")]
    [InlineData("FEED-KEY-FOR-TESTS")]
    public async Task Feed_WithoutTheExactKey_IsRefused(string? sent)
    {
        await using var server = await BouncerServer.StartAsync("--Bouncer:RevocationFeedKey", "feed-key-for-tests", "--Bouncer:RevocationFeedAccess", "KeyRequired");
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };

        using var refused = new HttpRequestMessage(HttpMethod.Get, "/auth/revocations?wait=0");
        if (sent is not null) refused.Headers.Add("X-Bouncer-Feed-Key", sent);
        using var refusedResponse = await http.SendAsync(refused);
        Assert.Equal(HttpStatusCode.Unauthorized, refusedResponse.StatusCode);
        Assert.Contains("feed_key_invalid", await refusedResponse.Content.ReadAsStringAsync());

        using var allowed = new HttpRequestMessage(HttpMethod.Get, "/auth/revocations?wait=0");
        allowed.Headers.Add("X-Bouncer-Feed-Key", "feed-key-for-tests");
        using var allowedResponse = await http.SendAsync(allowed);
        Assert.Equal(HttpStatusCode.OK, allowedResponse.StatusCode);
    }
}
