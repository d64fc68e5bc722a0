using Microsoft.AspNetCore.Http;

namespace Bouncer.AspNetCore;

/// <summary>
/// Everything a Bouncer deployment served over HTTP is configured with: the engine's settings
/// (<see cref="BouncerEngineOptions"/>) plus the HTTP surface's. Bound from the <c>Bouncer</c> section, validated
/// at start, never changed afterwards.
/// </summary>
public sealed class BouncerOptions : BouncerEngineOptions
{
    /// <summary>Which credentials the deployment accepts. Default hybrid.</summary>
    public BouncerMode Mode { get; set; } = BouncerMode.Hybrid;

    /// <summary>Audiences the hybrid exchange (<c>POST /auth/token</c>) may mint for. Empty: any.</summary>
    public List<string> DownstreamAudiences { get; set; } = [];

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
    /// Send <c>Bouncer-Trace</c> and <c>Server-Timing</c> headers saying what the server did per request (the
    /// simulator shows them). They reveal how a credential was checked: default off.
    /// </summary>
    public bool TraceHeaders { get; set; }

    /// <summary>
    /// Shared key downstream verifiers send as <c>X-Bouncer-Feed-Key</c> to read <c>GET /auth/revocations</c> (the feed
    /// names revoked users and sessions). Null: the deployment's generated key (<see cref="Revocation.RevocationFeedKey"/>,
    /// stored encrypted with the other secrets, shown by <c>bouncer feed key</c>). The feed always needs a key, unless
    /// <see cref="RevocationFeedAccess"/> lets loopback callers in.
    /// </summary>
    public string? RevocationFeedKey { get; set; }

    /// <summary>
    /// Who may read the revocation feed: <see cref="AspNetCore.RevocationFeedAccess.KeyRequired"/> (default) or, for a
    /// deployment whose verifiers all run on its machine, <see cref="AspNetCore.RevocationFeedAccess.KeyOrLoopback"/>.
    /// </summary>
    public RevocationFeedAccess RevocationFeedAccess { get; set; } = RevocationFeedAccess.KeyRequired;

    /// <summary>
    /// The scheme://host[:port] clients reach this deployment at: the base of every URL in discovery and the JWKS.
    /// Null: the issuer when it is an http(s) URL, else the server's first configured listen address. Never taken
    /// from a request's Host header, which any client sets.
    /// </summary>
    public string? PublicOrigin { get; set; }

    /// <summary>Registrations per client IP per minute before 429. Default 10.</summary>
    public int RegistrationsPerMinute { get; set; } = 10;

    /// <summary>
    /// <c>POST /auth/refresh</c> calls per client IP per minute (per instance) before 429 <c>rate_limited</c>. Default 60:
    /// a browser refreshes once per access-token lifetime per tab, while guessing or bulk replay needs many.
    /// </summary>
    public int RefreshesPerMinute { get; set; } = 60;

    /// <summary>
    /// How <c>POST /auth/register</c> answers a name that is taken. False (default): <c>409 username_taken</c>, which
    /// tells anyone whether a name exists (the rate limit bounds how fast). True: the same <c>202</c> whether the
    /// account was created or not, so registration cannot be used to find names; a user who picked a taken name
    /// learns it at login.
    /// </summary>
    public bool UniformRegistration { get; set; }

    /// <summary>Failed logins per client IP per minute before 429. Default 20.</summary>
    public int LoginFailuresPerMinute { get; set; } = 20;

    /// <summary>Hooks into authentication (token and session validated, challenge, forbidden), in the aspnetcore manner.</summary>
    public BouncerEvents Events { get; set; } = new();

    /// <inheritdoc/>
    protected override string ModeName => Mode.ToString().ToLowerInvariant();

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (LoginFailuresPerMinute < 1) throw new InvalidOperationException("Bouncer:LoginFailuresPerMinute must be at least 1.");
        if (RegistrationsPerMinute < 1) throw new InvalidOperationException("Bouncer:RegistrationsPerMinute must be at least 1.");
        if (RefreshesPerMinute < 1) throw new InvalidOperationException("Bouncer:RefreshesPerMinute must be at least 1.");
        if (!string.IsNullOrEmpty(PublicOrigin) && (!Uri.TryCreate(PublicOrigin, UriKind.Absolute, out var origin) || origin.Scheme is not ("http" or "https")
            || origin.PathAndQuery != "/" || PublicOrigin.EndsWith('/')))
            throw new InvalidOperationException("Bouncer:PublicOrigin must be scheme://host[:port], without a path.");
    }
}
