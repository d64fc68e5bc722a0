using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Bouncer.AspNetCore;

/// <summary>
/// Runs before authentication: starts the request's <see cref="BouncerTrace"/> (sent back as the
/// <c>Bouncer-Trace</c> header) and refuses cross-site unsafe requests that ride on the session cookie.
/// </summary>
internal sealed class BouncerRequestMiddleware(RequestDelegate next, BouncerRuntime runtime)
{
    public async Task InvokeAsync(HttpContext context)
    {
        BouncerTrace? trace = null;
        if (runtime.Options.TraceHeaders ?? runtime.Options.Demo)
        {
            trace = new BouncerTrace();
            BouncerTrace.Current = trace;
            var started = runtime.Time.GetTimestamp();
            context.Response.OnStarting(() =>
            {
                context.Response.Headers["Bouncer-Trace"] = trace.ToString();
                var ms = runtime.Time.GetElapsedTime(started).TotalMilliseconds;
                context.Response.Headers["Server-Timing"] = $"bouncer;dur={ms.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}";
                return Task.CompletedTask;
            });
        }

        if (IsUnsafe(context.Request.Method) && RidesOnCookie(context) && !IsSameOrigin(context))
        {
            trace?.Reason = "csrf_rejected";
            runtime.Metrics.Fail("csrf_rejected");
            await BouncerProblems.WriteAsync(context, 403, "csrf_rejected", "Cross-site request refused: the Origin or Sec-Fetch-Site header does not match this site.");
            return;
        }
        // Login and register are exempt from the token (the Origin check above covers login CSRF): the
        // token comes from login, and a stale HttpOnly cookie of an ended session must not lock the user out.
        if (runtime.Options.RequireAntiforgeryToken && IsUnsafe(context.Request.Method) && HasSessionCookie(context) && !IsLoginOrRegister(context)
            && !HasValidAntiforgeryToken(context))
        {
            trace?.Reason = "csrf_token_invalid";
            runtime.Metrics.Fail("csrf_token_invalid");
            await BouncerProblems.WriteAsync(context, 403, "csrf_token_invalid", "Missing or wrong X-CSRF-Token header.");
            return;
        }
        await next(context);
    }

    private static bool IsUnsafe(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    private static bool HasSessionCookie(HttpContext context) => context.Request.Cookies.ContainsKey(BouncerDefaults.SessionCookieName);

    private static bool IsLoginOrRegister(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/auth/login") || context.Request.Path.StartsWithSegments("/auth/register");

    // Login and refresh set or use cookies too (login CSRF, refresh-cookie transport).
    private static bool RidesOnCookie(HttpContext context) =>
        context.Request.Headers.Authorization.Count == 0 &&
        (HasSessionCookie(context) || context.Request.Cookies.ContainsKey(BouncerDefaults.RefreshCookieName) || IsLoginOrRegister(context));

    /// <summary>
    /// Fetch metadata first (Sec-Fetch-Site: same-origin or none), else the Origin header against this
    /// host and the trusted origins. A request with neither header does not come from a browser (every
    /// current browser sends Origin on unsafe requests), so a cross-site forgery cannot produce it.
    /// </summary>
    private bool IsSameOrigin(HttpContext context)
    {
        var site = context.Request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0) return site is "same-origin" or "none";
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0) return true;
        var self = $"{context.Request.Scheme}://{context.Request.Host}";
        return string.Equals(origin, self, StringComparison.OrdinalIgnoreCase)
            || runtime.Options.TrustedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase);
    }

    private bool HasValidAntiforgeryToken(HttpContext context)
    {
        var sent = context.Request.Headers["X-CSRF-Token"].ToString();
        if (!context.Request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out var id) || sent.Length == 0) return false;
        var expected = AntiforgeryToken(runtime, id);
        // Constant-time compare: no timing oracle on the token.
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(sent), Encoding.ASCII.GetBytes(expected));
    }

    /// <summary>The anti-forgery token bound to a session id: HMAC of the id under the deployment's derivation key.</summary>
    internal static string AntiforgeryToken(BouncerRuntime runtime, string sessionId)
    {
        var mac = HMACSHA256.HashData(runtime.Options.Refresh.DerivationKey!, Encoding.ASCII.GetBytes("csrf:" + sessionId));
        return System.Buffers.Text.Base64Url.EncodeToString(mac);
    }
}
