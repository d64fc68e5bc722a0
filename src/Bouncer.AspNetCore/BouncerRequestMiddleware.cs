using System.Security.Cryptography;
using System.Text;
using Bouncer.Diagnostics;
using Bouncer.Refresh;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// Runs before authentication: names the request's caller for the audit trail, starts its <see cref="BouncerTrace"/>
/// (sent back as the <c>Bouncer-Trace</c> header when enabled) and refuses cross-site unsafe requests that ride on
/// the session cookie.
/// </summary>
internal sealed class BouncerRequestMiddleware(RequestDelegate next, IOptions<BouncerOptions> bouncer, RefreshTokenService refresh, BouncerMetrics metrics, TimeProvider time)
{
    private readonly BouncerOptions _options = bouncer.Value;

    public async Task InvokeAsync(HttpContext context)
    {
        // Read when an audit event asks, not here: most requests write none.
        BouncerCaller.Current = new BouncerCaller(context, ActorOf, ClientAddressOf, UserAgentOf);
        // Answers that carry tokens or identity must not be stored by a browser or a proxy (RFC 6749 5.1, RFC 9111
        // 5.2.2.5, ASVS 14.3.2): everything under /auth and /admin, and every answer to an authenticated request.
        context.Response.OnStarting(static state =>
        {
            var ctx = (HttpContext)state;
            if (ctx.Request.Path.StartsWithSegments("/auth") || ctx.Request.Path.StartsWithSegments("/admin") || ctx.User.Identity?.IsAuthenticated == true)
            {
                if (!ctx.Response.Headers.CacheControl.ToString().Contains("no-store", StringComparison.Ordinal)) ctx.Response.Headers.CacheControl = "no-store";
                ctx.Response.Headers.Pragma = "no-cache";
            }
            return Task.CompletedTask;
        }, context);
        BouncerTrace? trace = null;
        if (_options.TraceHeaders)
        {
            trace = new BouncerTrace();
            BouncerTrace.Current = trace;
            var started = time.GetTimestamp();
            context.Response.OnStarting(() =>
            {
                context.Response.Headers["Bouncer-Trace"] = trace.ToString();
                var ms = time.GetElapsedTime(started).TotalMilliseconds;
                context.Response.Headers["Server-Timing"] = $"bouncer;dur={ms.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}";
                return Task.CompletedTask;
            });
        }

        if (IsUnsafe(context.Request.Method) && RidesOnCookie(context) && !IsSameOrigin(context))
        {
            trace?.Reason = FailureCodes.CsrfRejected;
            metrics.Fail(FailureCodes.CsrfRejected);
            await BouncerProblems.WriteAsync(context, 403, FailureCodes.CsrfRejected, "Cross-site request refused: the Origin or Sec-Fetch-Site header does not match this site.");
            return;
        }
        // Login and register are exempt from the token (the Origin check above covers login CSRF): the
        // token comes from login, and a stale HttpOnly cookie of an ended session must not lock the user out.
        if (_options.RequireAntiforgeryToken && IsUnsafe(context.Request.Method) && HasSessionCookie(context) && !IsLoginOrRegister(context)
            && !HasValidAntiforgeryToken(context))
        {
            trace?.Reason = FailureCodes.CsrfTokenInvalid;
            metrics.Fail(FailureCodes.CsrfTokenInvalid);
            await BouncerProblems.WriteAsync(context, 403, FailureCodes.CsrfTokenInvalid, "Missing or wrong X-CSRF-Token header.");
            return;
        }
        try
        {
            await next(context);
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex) && !context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            // An outage is not the client's fault and not a crash: 503 with a reason and when to retry, never a 500
            // (RFC 9110 15.6.4); the store clients reconnect by themselves.
            trace?.Reason = FailureCodes.StoreUnavailable;
            metrics.Fail(FailureCodes.StoreUnavailable);
            context.Response.Clear();
            context.Response.Headers.RetryAfter = "1";
            await BouncerProblems.WriteAsync(context, 503, FailureCodes.StoreUnavailable, "A store Bouncer needs did not answer in time; retry shortly.");
        }
    }

    private static readonly Func<object, string?> ActorOf = static c => ((HttpContext)c).User.FindFirst(BouncerClaims.Subject)?.Value;
    private static readonly Func<object, string?> ClientAddressOf = static c => ((HttpContext)c).Connection.RemoteIpAddress?.ToString();
    private static readonly Func<object, string?> UserAgentOf = static c =>
        ((HttpContext)c).Request.Headers.UserAgent.ToString() is var agent && agent.Length > 120 ? agent[..120] : agent;

    private static bool IsUnsafe(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    private static bool HasSessionCookie(HttpContext context) => context.Request.Cookies.ContainsKey(BouncerDefaults.SessionCookieName);

    private static bool IsLoginOrRegister(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/auth/login") || context.Request.Path.StartsWithSegments("/auth/register");

    // What a browser could send on its own: a Bouncer cookie, or a login or registration (login CSRF). An
    // Authorization header proves nothing: a browser attaches cached Basic credentials to a cross-site request.
    private static bool RidesOnCookie(HttpContext context) =>
        HasSessionCookie(context) || context.Request.Cookies.ContainsKey(BouncerDefaults.RefreshCookieName) || IsLoginOrRegister(context);

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
            || _options.TrustedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase);
    }

    private bool HasValidAntiforgeryToken(HttpContext context)
    {
        var sent = context.Request.Headers["X-CSRF-Token"].ToString();
        if (!context.Request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out var id) || sent.Length == 0) return false;
        var expected = AntiforgeryToken(refresh, id);
        // Constant-time compare: no timing oracle on the token.
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(sent), Encoding.ASCII.GetBytes(expected));
    }

    /// <summary>The anti-forgery token bound to a session id: HMAC of the id under the deployment's derivation key.</summary>
    internal static string AntiforgeryToken(RefreshTokenService refresh, string sessionId) => refresh.DeriveTag("bouncer csrf", sessionId);
}
