using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Bouncer.AspNetCore;

namespace Bouncer.Server.Tests;

/// <summary>One host for the class: malformed input changes nothing a later case could see.</summary>
public sealed class RobustnessHost : IAsyncLifetime
{
    public BouncerHost Host { get; } = new();
    public string SessionCookie { get; private set; } = "";

    public async Task InitializeAsync() => SessionCookie = (await Host.LoginSessionAsync("alice")).Cookie;

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Malformed cookies, headers and bodies get 400/401 with a reason: never a 500, never a stack trace.</summary>
public sealed class RobustnessTests(RobustnessHost fixture) : IClassFixture<RobustnessHost>
{
    private BouncerHost Host => fixture.Host;

    public static TheoryData<string, string> Bodies()
    {
        var data = new TheoryData<string, string>();
        foreach (var path in new[] { "/auth/login", "/auth/register", "/auth/refresh" })
        {
            foreach (var name in BodyCases.Keys) data.Add(path, name);
        }
        return data;
    }

    private static readonly Dictionary<string, Func<HttpContent>> BodyCases = new()
    {
        ["truncated"] = () => Json("{\"username\":"),
        ["garbage"] = () => Json("}{ not json at all"),
        ["null"] = () => Json("null"),
        ["array"] = () => Json("[1,2,3]"),
        ["string"] = () => Json("\"hello\""),
        ["number-username"] = () => Json("{\"username\":1,\"password\":true,\"mode\":[]}"),
        ["object-refresh-token"] = () => Json("{\"refresh_token\":{\"a\":1},\"username\":{\"a\":1}}"),
        ["deep"] = () => Json(new string('[', 5000) + new string(']', 5000)),
        ["empty"] = () => Json(""),
        ["one-megabyte"] = () => Json("{\"username\":\"" + new string('a', 1024 * 1024) + "\"}"),
        ["one-megabyte-chunked"] = () => new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"password\":\"" + new string('b', 1024 * 1024) + "\"}"))) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        ["invalid-utf8"] = () => new ByteArrayContent([(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}']) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        ["non-ascii"] = () => Json("{\"username\":\"ünï😀\u0000\",\"password\":\"pässwörd\u202e\",\"refresh_token\":\"ŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧŧ\"}"),
        ["form"] = () => new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "alice", ["password"] = "x" }),
        ["xml"] = () => new StringContent("<login><username>alice</username></login>", Encoding.UTF8, "application/xml"),
    };

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task Post_MalformedBody_Returns4xxWithReason(string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = BodyCases[body]() };
        using var response = await Host.Client().SendAsync(request);
        await AssertRefusedAsync(response);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("number-username")]
    [InlineData("empty")]
    [InlineData("one-megabyte")]
    [InlineData("invalid-utf8")]
    public async Task Token_MalformedBodyWithSession_Returns400WithReason(string body)
    {
        using var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/token", fixture.SessionCookie);
        request.Content = BodyCases[body]();
        using var response = await Host.Client().SendAsync(request);
        await AssertRefusedAsync(response);
    }

    public static TheoryData<string, string> AuthorizationHeaders() => new()
    {
        { "bare-scheme", "Bearer" },
        { "scheme-and-space", "Bearer " },
        { "three-empty-parts", "Bearer .." },
        { "abc", "Bearer a.b.c" },
        { "ten-kilobytes", "Bearer " + new string('a', 5000) + "." + new string('b', 5000) + ".c" },
        { "hundred-kilobytes", "Bearer " + new string('x', 100 * 1024) },
        { "non-ascii", "Bearer ünïcødé.ťøķéñ.😀😀😀" },
        { "alg-none", "Bearer " + Jwt.Segment("{\"alg\":\"none\",\"typ\":\"at+jwt\"}") + "." + Jwt.Segment("{\"sub\":\"alice\",\"iss\":\"urn:bouncer\",\"aud\":\"bouncer\",\"exp\":9999999999}") + "." },
        { "alg-none-upper", "Bearer " + Jwt.Segment("{\"alg\":\"NONE\"}") + "." + Jwt.Segment("{\"sub\":\"alice\"}") + ".c2ln" },
        { "alg-hs256-unknown-key", "Bearer " + Jwt.Segment("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"x\"}") + "." + Jwt.Segment("{\"sub\":\"alice\"}") + ".c2lnbmF0dXJl" },
        { "header-not-json", "Bearer " + Jwt.Segment("not json") + "." + Jwt.Segment("{}") + ".AAAA" },
        { "header-array", "Bearer " + Jwt.Segment("[]") + "." + Jwt.Segment("[]") + ".AAAA" },
        { "padding", "Bearer eyJhbGciOiJFUzI1NiJ9==.e30=.AAAA" },
        // Escaped lone surrogates: valid JSON syntax that the reader refuses to turn into text (was a 500).
        { "lone-surrogate-header-name", "Bearer " + Jwt.Segment("{\"\\ud800\":1}") + ".e30.AAAA" },
        { "lone-surrogate-alg", "Bearer " + Jwt.Segment("{\"alg\":\"\\udfff\",\"typ\":\"at+jwt\"}") + ".e30.AAAA" },
        { "lone-surrogate-typ", "Bearer " + Jwt.Segment("{\"alg\":\"RS256\",\"typ\":\"\\ud800\"}") + ".e30.AAAA" },
        { "five-parts", "Bearer a.b.c.d.e" },
        { "basic", "Basic YWxpY2U6cGFzc3dvcmQ=" },
        { "empty", "" },
    };

    [Theory]
    [MemberData(nameof(AuthorizationHeaders))]
    public async Task ApiMe_MalformedAuthorization_Returns401WithReason(string name, string header)
    {
        Assert.NotNull(name);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
        request.Headers.TryAddWithoutValidation("Authorization", header);
        using var response = await Host.Client().SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertRefusedAsync(response);
    }

    [Fact]
    public async Task ApiMe_AlgNoneToken_RefusedWithInvalidTokenChallenge()
    {
        var token = Jwt.Segment("{\"alg\":\"none\",\"typ\":\"at+jwt\"}") + "." + Jwt.Segment("{\"sub\":\"alice\",\"iss\":\"urn:bouncer\",\"aud\":\"bouncer\",\"exp\":9999999999}") + ".";
        using var response = await Host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = Problem.BearerError(response);
        Assert.Contains("error=\"invalid_token\"", challenge);
        Assert.Contains("error_description=\"", challenge);
    }

    public static TheoryData<string, string> Cookies()
    {
        var random = new char[43];
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for (var i = 0; i < random.Length; i++) random[i] = alphabet[Random.Shared.Next(alphabet.Length)];
        return new()
        {
            { "random-43", new string(random) },
            { "ten-kilobytes", new string('j', 10 * 1024) },
            { "42-chars", new string('A', 42) },
            { "44-chars", new string('A', 44) },
            { "padding", new string('A', 41) + "==" },
            { "bad-alphabet", new string('+', 43) },
            { "non-ascii", "ünïcødé-ünïcødé-ünïcødé-ünïcødé-ünïcødé-ü" },
            { "quoted", "\"" + new string('A', 43) + "\"" },
            { "percent", "%00%FF%E2%98%83" },
        };
    }

    [Theory]
    [MemberData(nameof(Cookies))]
    public async Task ApiMe_MalformedSessionCookie_Returns401SessionInvalid(string name, string value)
    {
        Assert.NotNull(name);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
        request.Headers.TryAddWithoutValidation("Cookie", $"{BouncerDefaults.SessionCookieName}={value}");
        using var response = await Host.Client().SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertRefusedAsync(response);
    }

    [Theory]
    [MemberData(nameof(Cookies))]
    public async Task Logout_MalformedSessionCookie_Returns401(string name, string value)
    {
        Assert.NotNull(name);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/logout");
        request.Headers.TryAddWithoutValidation("Cookie", $"{BouncerDefaults.SessionCookieName}={value}");
        using var response = await Host.Client().SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertRefusedAsync(response);
    }

    [Theory]
    [InlineData("__Host-bouncer")]
    [InlineData("__Host-bouncer=; __Host-bouncer=x")]
    [InlineData(";;;===;")]
    [InlineData("__Secure-bouncer-refresh=ünï")]
    public async Task Refresh_MalformedCookieHeader_Returns401(string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/refresh");
        request.Headers.TryAddWithoutValidation("Cookie", cookie);
        using var response = await Host.Client().SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertRefusedAsync(response);
    }

    [Theory]
    [InlineData("/auth/revocations?after=abc")]
    [InlineData("/auth/revocations?after=-5&wait=0")]
    [InlineData("/auth/revocations?wait=99999999999999")]
    [InlineData("/auth/revocations?after=99999999999999999999")]
    public async Task Revocations_OddQuery_NeverFails(string path)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        using var response = await Host.FeedClient().GetAsync(path, cts.Token);
        Assert.True((int)response.StatusCode is 200 or 400, $"got {(int)response.StatusCode}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("Exception", text);
    }

    // A chunked body announces no length: the reader stops one byte past the 16 KiB cap instead of buffering it all.
    [Theory]
    [InlineData(16 * 1024, HttpStatusCode.NoContent)]
    [InlineData(16 * 1024 + 1, HttpStatusCode.BadRequest)]
    public async Task Login_ChunkedBody_IsReadUpToTheCapAndNoFurther(int size, HttpStatusCode expected)
    {
        var json = $$"""{"username":"alice","password":"{{Passwords.Good}}","mode":"session"}""";
        var body = Encoding.UTF8.GetBytes(json + new string(' ', size - Encoding.UTF8.GetByteCount(json)));
        Assert.Equal(size, body.Length);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/login")
        {
            // 1 KiB pieces over a stream of unknown length: sent chunked, read in many reads.
            Content = new StreamContent(new MemoryStream(body), 1024) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.TransferEncodingChunked = true;
        using var response = await Host.Client().SendAsync(request);
        Assert.Equal(expected, response.StatusCode);
        if (expected != HttpStatusCode.NoContent) await AssertRefusedAsync(response);
    }

    [Fact]
    public async Task RevocationFeed_UnparsableCursor_Is400NotA500()
    {
        using var response = await Host.FeedClient().GetAsync("/auth/revocations?after=abc&wait=0");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("   at ", await response.Content.ReadAsStringAsync());
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is 400 or 401 or 413 or 415, $"got {(int)response.StatusCode}: {text}");
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("Exception", text);
        Assert.False(string.IsNullOrEmpty(await Problem.ReasonAsync(response)), $"no reason in: {text}");
    }
}
