using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Bouncer.Users;
using Microsoft.AspNetCore.Http;

namespace Bouncer.AspNetCore;

/// <summary>Which credentials a deployment accepts.</summary>
public enum BouncerMode
{
    /// <summary>Server-side sessions: an opaque id in an HttpOnly cookie, looked up per request.</summary>
    Session,

    /// <summary>Signed access tokens (Bearer) plus rotating refresh tokens; no lookup per request.</summary>
    Jwt,

    /// <summary>Both: browsers hold a session, and a session can mint short JWTs for downstream services.</summary>
    Hybrid,
}

/// <summary>Names used by the ASP.NET Core integration.</summary>
public static class BouncerDefaults
{
    /// <summary>The default scheme: picks the session or bearer handler by what the request carries.</summary>
    public const string AuthenticationScheme = "Bouncer";
    public const string SessionScheme = "Bouncer.Session";
    public const string BearerScheme = "Bouncer.Bearer";

    /// <summary>
    /// <c>__Host-</c> prefix: the browser accepts the cookie only with Secure, Path=/ and no Domain, so a
    /// sibling subdomain cannot plant or overwrite it (RFC 6265bis 4.1.3.2).
    /// </summary>
    public const string SessionCookieName = "__Host-bouncer";

    /// <summary>The refresh-token cookie of browser clients in JWT mode, scoped to the refresh path.</summary>
    public const string RefreshCookieName = "__Secure-bouncer-refresh";

    /// <summary>Policy name for admin-only endpoints.</summary>
    public const string AdminPolicy = "Bouncer.Admin";
}

/// <summary>Everything a Bouncer deployment is configured with. Validated at start.</summary>
public sealed class BouncerOptions
{
    public BouncerMode Mode { get; set; } = BouncerMode.Hybrid;

    /// <summary>The <c>iss</c> of every token. Shared by all instances (stored, never derived from a URL).</summary>
    public string Issuer { get; set; } = "urn:bouncer";

    /// <summary>The <c>aud</c> of access tokens for this deployment's own APIs.</summary>
    public string Audience { get; set; } = "bouncer";

    /// <summary>Audiences the hybrid exchange (<c>POST /auth/token</c>) may mint for. Empty: any.</summary>
    public List<string> DownstreamAudiences { get; set; } = [];

    /// <summary>Lifetime of hybrid-exchange tokens. Default 2 minutes.</summary>
    public TimeSpan ExchangeTokenLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Signing algorithm of generated keys. Default RS256, chosen by measurement (bench/results/jwt.md, this
    /// 2-core machine): RS256 verifies at ~55k/s against ES256's ~21k/s, and every request of every service
    /// verifies while only logins and refreshes sign (RS256 ~3.9k/s, ES256 ~50k/s); a 10-minute token used
    /// more than about seven times costs less CPU in total with RS256. ES256 gives smaller tokens (~250
    /// bytes less) and cheap signing; HS256 and EdDSA by configuration.
    /// </summary>
    public JwsAlgorithm SigningAlgorithm { get; set; } = JwsAlgorithm.RS256;

    /// <summary>
    /// How long a key added by <c>POST /admin/keys/rotate</c> is published before it signs, so verifiers that cache
    /// the JWKS (downstream services) learn it first. Default 1 hour; 0 to 7 days.
    /// </summary>
    public TimeSpan KeyPrePublicationDelay { get; set; } = TimeSpan.FromHours(1);

    public SessionOptions Sessions { get; set; } = new();
    public RefreshOptions Refresh { get; set; } = new();
    public RevocationOptions Revocation { get; set; } = new();
    public UserOptions Users { get; set; } = new();

    /// <summary>Serve session reads from a near cache invalidated by the revocation push. Null: off.</summary>
    public NearCacheOptions? NearCache { get; set; } = new();

    /// <summary>Cookie SameSite mode. Lax by default (top-level navigations keep the session); Strict configurable.</summary>
    public SameSiteMode CookieSameSite { get; set; } = SameSiteMode.Lax;

    /// <summary>
    /// Require an anti-forgery token (header <c>X-CSRF-Token</c>, issued at login) on cookie-authenticated
    /// unsafe requests, on top of the Origin / Sec-Fetch-Site check. Default false.
    /// </summary>
    public bool RequireAntiforgeryToken { get; set; }

    /// <summary>Origins (scheme://host[:port]) trusted for cookie-authenticated unsafe requests besides the request's own.</summary>
    public List<string> TrustedOrigins { get; set; } = [];

    /// <summary>Self-service registration at <c>POST /auth/register</c>. Default true.</summary>
    public bool AllowRegistration { get; set; } = true;

    /// <summary>Username that becomes admin when registered (bootstrap). Null: none.</summary>
    public string? BootstrapAdmin { get; set; }

    /// <summary>
    /// Accept access tokens without a <c>typ</c> header. Default false: Bouncer's tokens always carry
    /// <c>at+jwt</c> (RFC 9068), and explicit typing stops token confusion (RFC 8725 3.11).
    /// </summary>
    public bool AllowMissingTyp { get; set; }

    /// <summary>
    /// Send <c>Bouncer-Trace</c> and <c>Server-Timing</c> headers saying what the server did per request
    /// (the simulator shows them). They reveal how a credential was checked, so the default is on only
    /// with <see cref="Demo"/>.
    /// </summary>
    public bool? TraceHeaders { get; set; }

    /// <summary>Demo controls (expire, push toggle) for the simulator. Never on in Production unless set explicitly.</summary>
    public bool Demo { get; set; }

    /// <summary>
    /// Shared key downstream verifiers send as <c>X-Bouncer-Feed-Key</c> to read <c>GET /auth/revocations</c>.
    /// The feed names revoked users and sessions; set a key whenever the server is reachable beyond the
    /// services that verify its tokens. Null: the feed is open (the default, for a single trusted network).
    /// </summary>
    public string? RevocationFeedKey { get; set; }

    /// <summary>Failed logins per client IP per minute before 429. Default 20.</summary>
    public int LoginFailuresPerMinute { get; set; } = 20;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Issuer)) throw new InvalidOperationException("Bouncer:Issuer must be set.");
        if (string.IsNullOrWhiteSpace(Audience)) throw new InvalidOperationException("Bouncer:Audience must be set.");
        if (ExchangeTokenLifetime <= TimeSpan.Zero || ExchangeTokenLifetime > TimeSpan.FromMinutes(15))
            throw new InvalidOperationException("Bouncer:ExchangeTokenLifetime must be between 0 and 15 minutes.");
        if (KeyPrePublicationDelay < TimeSpan.Zero || KeyPrePublicationDelay > TimeSpan.FromDays(7))
            throw new InvalidOperationException("Bouncer:KeyPrePublicationDelay must be between 0 and 7 days.");
        if (LoginFailuresPerMinute < 1) throw new InvalidOperationException("Bouncer:LoginFailuresPerMinute must be at least 1.");
        Sessions.Validate();
        Refresh.Validate();
    }
}
