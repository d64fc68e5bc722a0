using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bouncer;
using Bouncer.AspNetCore;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bouncer.Server.Tests;

/// <summary>
/// The Bouncer server in memory (TestServer) with memory stores, Production unless asked otherwise.
/// Cookies are handled by hand (no CookieContainer) so a test decides exactly what each request carries.
/// </summary>
public sealed class BouncerHost : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly string _environment;

    public BouncerHost(string environment = "Production", params (string Key, string? Value)[] settings)
    {
        _environment = environment;
        // Discovery names configured URLs only: the origin this host's clients use.
        // Tests register many users from one address; the per-address registration limit has its own test.
        _settings = new Dictionary<string, string?> { ["Bouncer:Store"] = "memory", ["Bouncer:PublicOrigin"] = "https://localhost", ["Bouncer:RegistrationsPerMinute"] = "100000", ["Bouncer:RefreshesPerMinute"] = "100000",
            // Networked stores refuse to start outside Development without a key for the secrets at rest.
            ["Bouncer:KeyEncryption:Key"] = Bouncer.Tests.TestKeyEncryption.Key };
        foreach (var (key, value) in settings) _settings[key] = value;
    }

    public BouncerHost(params (string Key, string? Value)[] settings) : this("Production", settings) { }

    /// <summary>When set before the first request, the server runs on this clock (tests move it by hand).</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>When set before the first request, every log entry the server's filters let through also goes here.</summary>
    public ILoggerProvider? LogSink { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(_environment);
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        if (LogSink is { } sink) builder.ConfigureLogging(l => l.AddProvider(sink));
        // Registered after the app's own TryAdd of TimeProvider.System, so this one is resolved.
        if (Clock is { } clock) builder.ConfigureTestServices(s => s.AddSingleton(clock));
    }

    /// <summary>The engine's services as the host composed them.</summary>
    public EngineView Runtime => new(Services);

    /// <summary>A client without cookie handling, on https://localhost (so the request's own origin is https://localhost).</summary>
    public HttpClient Client() => KestrelAddress is { } address
        ? new HttpClient { BaseAddress = address }
        : CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false, AllowAutoRedirect = false, BaseAddress = new Uri("https://localhost") });

    /// <summary>A client that reads the revocation feed with the deployment's generated key, as a downstream verifier does.</summary>
    public HttpClient FeedClient()
    {
        var client = Client();
        client.DefaultRequestHeaders.Add("X-Bouncer-Feed-Key", Services.GetRequiredService<Bouncer.Revocation.RevocationFeedKey>().Value);
        return client;
    }

    /// <summary>Set when the host runs on real Kestrel: clients then talk HTTP to this address.</summary>
    public Uri? KestrelAddress { get; set; }

    public async Task RegisterAsync(string username, string password = Passwords.Good)
    {
        using var response = await Client().PostAsJsonAsync("/auth/register", new { username, password });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    /// <summary>Registers (when asked) and logs in with a session; returns the session cookie's value.</summary>
    public async Task<SessionLogin> LoginSessionAsync(string username, string password = Passwords.Good, bool register = true)
    {
        if (register) await RegisterAsync(username, password);
        using var response = await Client().PostAsJsonAsync("/auth/login", new { username, password, mode = "session" });
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var cookie = SetCookie.Find(response, BouncerDefaults.SessionCookieName);
        Assert.NotNull(cookie);
        response.Headers.TryGetValues("X-CSRF-Token", out var csrf);
        return new SessionLogin(cookie.Value, csrf?.FirstOrDefault());
    }

    public async Task<TokenPair> LoginJwtAsync(string username, string password = Passwords.Good, bool register = true)
    {
        if (register) await RegisterAsync(username, password);
        using var response = await Client().PostAsJsonAsync("/auth/login", new { username, password, mode = "jwt" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await TokenPair.ReadAsync(response);
    }

    /// <summary>A request carrying the session cookie.</summary>
    public static HttpRequestMessage WithSession(HttpMethod method, string path, string sessionId, object? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Cookie", $"{BouncerDefaults.SessionCookieName}={sessionId}");
        if (json is not null) request.Content = JsonContent.Create(json);
        return request;
    }

    /// <summary>A request carrying a bearer token.</summary>
    public static HttpRequestMessage WithBearer(HttpMethod method, string path, string token, object? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        if (json is not null) request.Content = JsonContent.Create(json);
        return request;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
    {
        using (request) return await Client().SendAsync(request);
    }
}

/// <summary>The engine services a test looks at, resolved from the host's container.</summary>
public sealed class EngineView(IServiceProvider services)
{
    public BouncerStores Stores => services.GetRequiredService<BouncerStores>();
    public Bouncer.Sessions.SessionManager Sessions => services.GetRequiredService<Bouncer.Sessions.SessionManager>();
    public BouncerOptions Options => services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BouncerOptions>>().Value;
    public Bouncer.Tokens.BouncerTokens Tokens => services.GetRequiredService<Bouncer.Tokens.BouncerTokens>();
    public Bouncer.Tokens.KeyRing Keys => Tokens.Keys;
    public Bouncer.Tokens.JwsVerifier VerifierFor(string audience) => Tokens.VerifierFor(audience);

    /// <summary>The demo host's switches, or null when the host runs without demo controls.</summary>
    public Bouncer.Server.DemoState? Demo => services.GetService<Bouncer.Server.DemoState>();
}

public static class Passwords
{
    public const string Good = "correct horse battery";
}

public sealed record SessionLogin(string Cookie, string? CsrfToken);

public sealed record TokenPair(string AccessToken, string TokenType, int ExpiresIn, string? RefreshToken)
{
    public static async Task<TokenPair> ReadAsync(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        return new TokenPair(
            root.GetProperty("access_token").GetString()!,
            root.GetProperty("token_type").GetString()!,
            root.GetProperty("expires_in").GetInt32(),
            root.TryGetProperty("refresh_token", out var r) ? r.GetString() : null);
    }
}

/// <summary>One parsed Set-Cookie header (RFC 6265 5.2), attribute names case-insensitive.</summary>
public sealed record SetCookie(string Name, string Value, IReadOnlyDictionary<string, string> Attributes)
{
    public bool Has(string attribute) => Attributes.ContainsKey(attribute);
    public string? this[string attribute] => Attributes.TryGetValue(attribute, out var v) ? v : null;

    public static SetCookie Parse(string header)
    {
        var parts = header.Split(';');
        var eq = parts[0].IndexOf('=');
        var attributes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in parts.Skip(1))
        {
            var p = part.Trim();
            var i = p.IndexOf('=');
            if (i < 0) attributes[p] = "";
            else attributes[p[..i]] = p[(i + 1)..];
        }
        return new SetCookie(parts[0][..eq].Trim(), parts[0][(eq + 1)..].Trim(), attributes);
    }

    public static SetCookie? Find(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues("Set-Cookie", out var values)
            ? values.Select(Parse).LastOrDefault(c => c.Name == name)
            : null;
}

/// <summary>Reads problem+json answers.</summary>
public static class Problem
{
    public static async Task<string?> ReasonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("Exception", text);
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.TryGetProperty("reason", out var r) ? r.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Asserts the status, the problem+json media type and the reason code.</summary>
    public static async Task AssertAsync(HttpResponseMessage response, HttpStatusCode status, string reason)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status} {reason}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(reason, await ReasonAsync(response));
    }

    /// <summary>The bearer challenge's error_description.</summary>
    public static string? BearerError(HttpResponseMessage response) =>
        response.Headers.WwwAuthenticate.Select(h => h.ToString()).FirstOrDefault();
}

public static class Jwt
{
    /// <summary>The decoded payload of a compact JWS (no verification: tests read what the server put in).</summary>
    public static JsonElement Payload(string token)
    {
        var part = token.Split('.')[1];
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(part);
        return JsonDocument.Parse(bytes).RootElement.Clone();
    }

    public static string Segment(string json) => System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
}
