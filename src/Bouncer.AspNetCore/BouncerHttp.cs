using System.Buffers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.AspNetCore;

/// <summary>HTTP details the endpoint groups share: bodies, cookies, the caller.</summary>
public static class BouncerHttp
{
    private const int MaxBody = 16 * 1024;

    private static readonly JsonSerializerOptions BodyOptions = new(JsonSerializerDefaults.Web) { MaxDepth = 8 };

    /// <summary>Reads a small JSON body; null for anything malformed, oversized or of the wrong shape (never a 500).</summary>
    public static async Task<T?> ReadAsync<T>(HttpContext ctx, CancellationToken ct) where T : class
    {
        if (ctx.Request.ContentLength is > MaxBody) return null;
        // A chunked body announces no length: read at most one byte past the cap, never the whole stream.
        var buffer = ArrayPool<byte>.Shared.Rent(MaxBody + 1);
        try
        {
            int total = 0, read;
            while (total <= MaxBody && (read = await ctx.Request.Body.ReadAsync(buffer.AsMemory(total, MaxBody + 1 - total), ct)) > 0)
                total += read;
            if (total is 0 or > MaxBody) return null;
            return JsonSerializer.Deserialize<T>(buffer.AsSpan(0, total), BodyOptions);
        }
        catch (JsonException)
        {
            return null;
        }
        finally
        {
            // Login and register bodies hold passwords: wipe them before the buffer goes back to the pool.
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    /// <summary>The options of Bouncer's session cookie (<c>__Host-</c>: Secure, Path=/, no Domain).</summary>
    public static CookieOptions SessionCookieOptions(BouncerOptions options) => new()
    {
        HttpOnly = true,
        Secure = true,
        SameSite = options.CookieSameSite,
        Path = "/",
        IsEssential = true,
    };

    /// <summary>Sets the session cookie: no Expires, so a browser-session cookie; the server's timeouts decide validity.</summary>
    public static void SetSessionCookie(HttpContext ctx, BouncerOptions options, string id) =>
        ctx.Response.Cookies.Append(BouncerDefaults.SessionCookieName, id, SessionCookieOptions(options));

    /// <summary>
    /// Clears the session cookie at once: <c>Max-Age=0</c>, which wins over any date (RFC 6265bis 5.6.2), plus an
    /// <c>Expires</c> in the past for clients that know only that.
    /// </summary>
    public static void ClearSessionCookie(HttpContext ctx, BouncerOptions options)
    {
        var cookie = SessionCookieOptions(options);
        cookie.MaxAge = TimeSpan.Zero;
        cookie.Expires = DateTimeOffset.UnixEpoch;
        ctx.Response.Cookies.Append(BouncerDefaults.SessionCookieName, "", cookie);
    }

    /// <summary>Clears the refresh cookie, always: it is scoped to /auth/refresh, so the logout requests that end it never carry it.</summary>
    public static void ClearRefreshCookie(HttpContext ctx) =>
        ctx.Response.Cookies.Append(BouncerDefaults.RefreshCookieName, "",
            new CookieOptions { Path = "/auth/refresh", Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict, MaxAge = TimeSpan.Zero, Expires = DateTimeOffset.UnixEpoch });

    /// <summary>
    /// After a logout: asks the browser to drop this origin's cookies too (W3C Clear Site Data), so nothing a script
    /// or an older response stored outlives the session.
    /// </summary>
    public static void ClearSiteCookies(HttpContext ctx) => ctx.Response.Headers["Clear-Site-Data"] = "\"cookies\"";

    /// <summary>
    /// The session cookie of the request, or null; also null when the name appears more than once (two cookies of one
    /// name are an injection attempt: a sibling site or a script planted one, and the server cannot tell which is real).
    /// </summary>
    public static string? SessionCookie(HttpRequest request, out bool duplicated)
    {
        duplicated = false;
        var seen = 0;
        foreach (var header in request.Headers.Cookie)
        {
            if (header is null) continue;
            foreach (var part in header.Split(';'))
                if (part.AsSpan().TrimStart().StartsWith(BouncerDefaults.SessionCookieName + "=", StringComparison.Ordinal)) seen++;
        }
        if (seen > 1)
        {
            duplicated = true;
            return null;
        }
        return request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out var id) && id.Length > 0 ? id : null;
    }

    /// <summary>How the request was authenticated: <c>session</c>, <c>jwt</c> or null.</summary>
    public static string? Via(ClaimsPrincipal user) => user.FindFirstValue(BouncerClaims.Via);

    /// <summary>The client's address, or <c>unknown</c>.</summary>
    public static string ClientAddress(HttpContext ctx) => ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    /// <summary>A short description of the client for session lists: user agent and address.</summary>
    public static string ClientSummary(HttpContext ctx)
    {
        var agent = ctx.Request.Headers.UserAgent.ToString();
        if (agent.Length > 120) agent = agent[..120];
        return $"{(agent.Length == 0 ? "unknown client" : agent)} / {ctx.Connection.RemoteIpAddress}";
    }

    /// <summary>Compares a presented secret with the expected one in constant time.</summary>
    /// <remarks>Digests first: FixedTimeEquals returns at once on a length mismatch, which would tell a caller the key's length.</remarks>
    public static bool SecretEquals(string sent, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(sent)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    /// <summary>
    /// The absolute URL a DPoP proof's <c>htu</c> must name (RFC 9449 4.3): the origin discovery names
    /// (<see cref="BouncerOptions.PublicOrigin"/>, else an http(s) issuer, else the first listen address; never the
    /// request's Host header, which the client picks), then the path base and path as they came on the wire
    /// (still percent-encoded). Query and fragment never count.
    /// </summary>
    public static string DpopTargetUrl(HttpContext ctx, BouncerOptions options)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(options);
        var origin = options.PublicOrigin is { Length: > 0 } configured ? configured
            : BouncerDiscoveryEndpoints.PublicOrigin(options, ctx.RequestServices.GetRequiredService<Bouncer.Tokens.BouncerTokens>().Issuer,
                ctx.RequestServices.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>());
        // RFC 9449 4.3 step 9: the URI of the request, so the encoded path: a decoded %3F would turn into a query and be dropped.
        return origin + ctx.Request.PathBase.ToUriComponent() + ctx.Request.Path.ToUriComponent();
    }

    // HttpContext.Items: the thumbprint of the key whose proof the bearer handler accepted with this request's access
    // token, so an endpoint that needs a proof by that key does not spend a second one.
    internal const string DpopProofKeyItem = "bouncer.dpop.proof-key";

    /// <summary>The <c>DPoP</c> header field values of the request (RFC 9449 4.1); more than one is refused by the validator.</summary>
    public static IReadOnlyList<string?> DpopProofs(HttpContext ctx) => ctx.Request.Headers["DPoP"];

    internal static IResult BadBody() => BouncerProblems.Result(400, FailureCodes.InvalidRequest, "The body must be a JSON object of the documented shape.");
}
