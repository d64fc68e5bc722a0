using Bouncer.Revocation;

namespace Bouncer.Verifier;

/// <summary>Names used by the downstream verifier.</summary>
public static class BouncerVerifierDefaults
{
    /// <summary>The authentication scheme registered by <c>AddBouncerVerifier</c>.</summary>
    public const string AuthenticationScheme = "BouncerVerifier";

    /// <summary>HttpContext.Items key holding the reason code of a refused token.</summary>
    public const string FailureReasonItem = "bouncer.verifier.reason";
}

/// <summary>Claim types the downstream verifier puts on <c>HttpContext.User</c> (the same names as the Bouncer server's).</summary>
public static class BouncerVerifierClaims
{
    /// <summary>The user id (<c>sub</c>).</summary>
    public const string Subject = "sub";
    /// <summary>The session id (<c>sid</c>).</summary>
    public const string SessionId = "sid";
    /// <summary>One claim per role.</summary>
    public const string Role = "role";
    /// <summary>The access token id (<c>jti</c>).</summary>
    public const string TokenId = "jti";
    /// <summary>The token's <c>scope</c>, space-separated.</summary>
    public const string Scope = "scope";
    /// <summary>The verified <c>iss</c>: which trusted issuer vouched for the token.</summary>
    public const string Issuer = "iss";
}

/// <summary>
/// Configuration of a downstream service that verifies Bouncer access tokens (and, optionally, tokens of outside
/// OIDC issuers) without sharing a store with the Bouncer server. Validated at start.
/// </summary>
public sealed class BouncerVerifierOptions
{
    private readonly List<TrustedIssuer> _issuers = [];

    /// <summary>
    /// Base URL of the Bouncer server, e.g. <c>http://auth.internal:5000</c>. Its discovery document names the issuer,
    /// the JWKS and the revocation feed, which must all be on this origin. Null: outside issuers only, no revocation feed.
    /// </summary>
    public string? Authority { get; set; }

    /// <summary>The audience Bouncer tokens must carry (the server's <c>Bouncer:Audience</c>, or the hybrid-exchange audience).</summary>
    public string? Audience { get; set; }

    /// <summary>The expected <c>iss</c> of Bouncer tokens. Null: taken from the discovery document; when set, the document must agree.</summary>
    public string? Issuer { get; set; }

    /// <summary>Staleness bound and policy of the revocation state (see <see cref="RevocationOptions"/>).</summary>
    public RevocationOptions Revocation { get; set; } = new();

    /// <summary>The server's <c>Bouncer:RevocationFeedKey</c>, when it sets one. Null: the feed is open.</summary>
    public string? RevocationFeedKey { get; set; }

    /// <summary>Every JWKS is re-read on this period. Default 5 minutes (well under the server's key pre-publication delay).</summary>
    public TimeSpan JwksRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A token naming an unknown <c>kid</c> triggers a JWKS refresh (in the background: the request is still refused) at
    /// most once per this period per issuer, so a flood of made-up kids cannot make the service hammer the key server.
    /// Default 30 s.
    /// </summary>
    public TimeSpan UnknownKidRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one long-poll of the revocation feed may be held by the server. Default 25 s (the server caps at 60).</summary>
    public TimeSpan RevocationLongPollWait { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>Timeout of each HTTP call to a key server or the feed, on top of the long-poll wait. Default 10 s.</summary>
    public TimeSpan BackchannelTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long start-up waits for the authority (discovery, JWKS, first revocation replay) before the host fails. Default 30 s.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// DPoP (RFC 9449) at this service: Off, Optional (default: bound tokens need their proof, unbound ones pass) or
    /// Required (every token must be bound), and <see cref="Bouncer.Dpop.DpopOptions.RequiredAudiences"/> (this service's
    /// <see cref="Audience"/>, or an outside issuer's, listed there needs bound tokens). A bound token presented as
    /// Bearer is refused in every mode.
    /// </summary>
    public Bouncer.Dpop.DpopOptions Dpop { get; set; } = new();

    /// <summary>
    /// The scheme://host[:port] clients reach this service at, which DPoP proofs' <c>htu</c> must name. Set it behind a
    /// proxy, and whenever the service is reachable under another name than its listen address. Null: the service's
    /// first listen address (a wildcard host counts as localhost). Never taken from a request's Host header, which any
    /// client sets.
    /// </summary>
    public string? PublicOrigin { get; set; }

    /// <summary>
    /// The secret the service's DPoP nonces (RFC 9449 9) are made with: 32 random bytes in base64url (43 characters),
    /// the same on every replica, so a nonce one replica hands out passes at the others. Required with
    /// <see cref="Bouncer.Dpop.DpopOptions.RequireNonce"/>; keep it secret (whoever has it can make nonces).
    /// </summary>
    public string? DpopNonceKey { get; set; }

    // The 32 bytes of DpopNonceKey, or null when unset or not exactly 32 bytes in canonical base64url (no padding, no
    // whitespace, no stray trailing bits: the BCL decoder is lenient about all three).
    internal byte[]? DpopNonceKeyBytes()
    {
        if (DpopNonceKey is not { Length: 43 } text) return null;
        foreach (var c in text)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return null;
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(text);
        return bytes.Length == 32 && System.Buffers.Text.Base64Url.EncodeToString(bytes) == text ? bytes : null;
    }

    /// <summary>Outside issuers trusted besides the authority.</summary>
    public IReadOnlyList<TrustedIssuer> Issuers => _issuers;

    /// <summary>Trusts tokens of an outside OIDC issuer, verified only with keys from its configured JWKS URL.</summary>
    public BouncerVerifierOptions AddIssuer(TrustedIssuer issuer)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        _issuers.Add(issuer);
        return this;
    }

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (Authority is null && _issuers.Count == 0)
            throw new InvalidOperationException("BouncerVerifier: set Authority or add at least one trusted issuer.");
        if (Authority is not null)
        {
            if (!Uri.TryCreate(Authority, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new InvalidOperationException("BouncerVerifier:Authority must be an absolute http(s) URL.");
            if (string.IsNullOrWhiteSpace(Audience)) throw new InvalidOperationException("BouncerVerifier:Audience must be set with an Authority.");
        }
        if (JwksRefreshInterval < TimeSpan.FromSeconds(1)) throw new InvalidOperationException("BouncerVerifier:JwksRefreshInterval must be at least 1 s.");
        if (UnknownKidRefreshInterval < TimeSpan.Zero) throw new InvalidOperationException("BouncerVerifier:UnknownKidRefreshInterval must not be negative.");
        if (RevocationLongPollWait < TimeSpan.Zero || RevocationLongPollWait > TimeSpan.FromSeconds(60))
            throw new InvalidOperationException("BouncerVerifier:RevocationLongPollWait must be between 0 and 60 s.");
        if (BackchannelTimeout <= TimeSpan.Zero) throw new InvalidOperationException("BouncerVerifier:BackchannelTimeout must be positive.");
        try { Dpop.Validate(); }
        catch (ArgumentException e) { throw new InvalidOperationException($"BouncerVerifier:Dpop:{e.ParamName}: {e.Message.Split(" (Parameter")[0]}", e); }
        // RFC 9449 9: a nonce is a MAC under this secret; replicas with different secrets refuse each other's nonces.
        if (!string.IsNullOrEmpty(DpopNonceKey) && DpopNonceKeyBytes() is null)
            throw new InvalidOperationException("BouncerVerifier:DpopNonceKey must be 32 random bytes in base64url (43 characters, no padding).");
        if (Dpop.RequireNonce && string.IsNullOrEmpty(DpopNonceKey))
            throw new InvalidOperationException("BouncerVerifier:DpopNonceKey must be set with Dpop:RequireNonce (the same 32-byte base64url secret on every replica, so a nonce one hands out passes at the others).");
        if (!string.IsNullOrEmpty(PublicOrigin) && (!Uri.TryCreate(PublicOrigin, UriKind.Absolute, out var origin) || origin.Scheme is not ("http" or "https")
            || origin.PathAndQuery != "/" || PublicOrigin.EndsWith('/')))
            throw new InvalidOperationException("BouncerVerifier:PublicOrigin must be scheme://host[:port], without a path.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var issuer in _issuers)
        {
            issuer.Validate();
            if (!seen.Add(issuer.Issuer)) throw new InvalidOperationException($"BouncerVerifier: issuer '{issuer.Issuer}' is configured twice.");
        }
    }
}

/// <summary>
/// An outside OIDC issuer whose tokens are accepted. Its keys come only from <see cref="JwksUri"/>: header members
/// that name keys (<c>jku</c>, <c>x5u</c>, <c>jwk</c>, <c>x5c</c>) are refused, never fetched.
/// </summary>
public sealed class TrustedIssuer
{
    /// <summary>The exact <c>iss</c> of its tokens. Required.</summary>
    public required string Issuer { get; init; }

    /// <summary>Absolute http(s) URL of its JWKS. Required.</summary>
    public required string JwksUri { get; init; }

    /// <summary>The audience its tokens must carry for this service. Required.</summary>
    public required string Audience { get; init; }

    /// <summary>
    /// Allowed algorithms, e.g. <c>["RS256"]</c> (symmetric HS256 is never allowed from an outside JWKS). A published key
    /// with another <c>alg</c> is ignored; a key without <c>alg</c> is pinned to the single allowed one when exactly one is
    /// allowed and its <c>kty</c> fits, and ignored otherwise.
    /// </summary>
    public required IReadOnlyList<string> Algorithms { get; init; }

    /// <summary>Refuse tokens without <c>typ</c>. Default false: outside issuers often omit it.</summary>
    public bool RequireTyp { get; init; }

    /// <summary>
    /// <c>typ</c> values accepted besides <c>at+jwt</c>. Default <c>["JWT"]</c>, what most outside issuers write; set
    /// empty to demand RFC 9068 typing.
    /// </summary>
    public IReadOnlyList<string> AcceptedTypes { get; init; } = ["JWT"];

    /// <summary>Leeway on exp, nbf and iat. Default 30 s.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);

    internal IReadOnlyList<Tokens.JwsAlgorithm> ParsedAlgorithms { get; private set; } = [];

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Issuer)) throw new InvalidOperationException("TrustedIssuer.Issuer must be set.");
        if (string.IsNullOrWhiteSpace(Audience)) throw new InvalidOperationException($"TrustedIssuer '{Issuer}': Audience must be set.");
        if (!Uri.TryCreate(JwksUri, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new InvalidOperationException($"TrustedIssuer '{Issuer}': JwksUri must be an absolute http(s) URL.");
        if (Algorithms is not { Count: > 0 }) throw new InvalidOperationException($"TrustedIssuer '{Issuer}': Algorithms must name at least one algorithm.");
        var parsed = new List<Tokens.JwsAlgorithm>();
        foreach (var name in Algorithms)
        {
            // An outside JWKS is public: an HMAC secret in it would let anyone sign (RFC 8725 3.2).
            if (!Tokens.JwsAlgorithms.TryParse(name, out var alg) || alg == Tokens.JwsAlgorithm.HS256)
                throw new InvalidOperationException($"TrustedIssuer '{Issuer}': algorithm '{name}' is not allowed (RS256, PS256, ES256, EdDSA).");
            if (!parsed.Contains(alg)) parsed.Add(alg);
        }
        ParsedAlgorithms = parsed;
    }
}
