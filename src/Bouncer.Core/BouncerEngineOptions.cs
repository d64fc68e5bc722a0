using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Secrets;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Bouncer.Users;

namespace Bouncer;

/// <summary>
/// What the engine is configured with, whatever hosts it (an ASP.NET Core app, the CLI): token identity and keys,
/// session, refresh, revocation and account policy, the near cache. Bound from the <c>Bouncer</c> configuration
/// section; validated once at start (<see cref="Validate"/>), never changed afterwards.
/// </summary>
public class BouncerEngineOptions
{
    /// <summary>The <c>iss</c> of every token. Shared by all instances (stored at first start, never derived from a URL).</summary>
    public string Issuer { get; set; } = "urn:bouncer";

    /// <summary>The <c>aud</c> of access tokens for this deployment's own APIs.</summary>
    public string Audience { get; set; } = "bouncer";

    /// <summary>Lifetime of hybrid-exchange tokens. Default 2 minutes; at most 15.</summary>
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
    /// How long a key added by rotation is published before it signs, so verifiers that cache the JWKS learn it first:
    /// set it at least to the longest JWKS cache among the verifiers served. Default 12 hours, the automatic refresh
    /// interval of stock <c>AddJwtBearer</c> (Microsoft.IdentityModel's ConfigurationManager; Bouncer's own verifier
    /// re-reads every 5 minutes). 0 to 7 days. A key added after a revocation signs at once regardless.
    /// </summary>
    public TimeSpan KeyPrePublicationDelay { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// Scheduled rotation: a new signing key every interval (added by the engine's housekeeping on one instance,
    /// published for <see cref="KeyPrePublicationDelay"/> before it signs; the old key retires once every token it
    /// signed has expired). Default 30 days; more than <see cref="KeyPrePublicationDelay"/> and at most 10 years.
    /// </summary>
    public TimeSpan KeyRotationInterval { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Accept access tokens without a <c>typ</c> header. Default false: Bouncer's tokens always carry
    /// <c>at+jwt</c> (RFC 9068), and explicit typing stops token confusion (RFC 8725 3.11).
    /// </summary>
    public bool AllowMissingTyp { get; set; }

    /// <summary>Session policy.</summary>
    public SessionOptions Sessions { get; set; } = new();

    /// <summary>Refresh-token and access-token policy.</summary>
    public RefreshOptions Refresh { get; set; } = new();

    /// <summary>How revocations are followed, and what happens when the push is stale.</summary>
    public RevocationOptions Revocation { get; set; } = new();

    /// <summary>Registration and login policy.</summary>
    public UserOptions Users { get; set; } = new();

    /// <summary>DPoP (RFC 9449): <c>Bouncer:Dpop:Mode</c> Off, Optional (default) or Required, per-audience requirement, proof window, nonces.</summary>
    public Dpop.DpopOptions Dpop { get; set; } = new();

    /// <summary>How long audit events are kept in the store (swept with sessions). Default 90 days; 1 day to 10 years.</summary>
    public TimeSpan AuditRetention { get; set; } = TimeSpan.FromDays(90);

    /// <summary>Where the key that encrypts the signing keys and other secrets at rest comes from.</summary>
    public KeyEncryptionOptions KeyEncryption { get; set; } = new();

    /// <summary>Serve session reads from a near cache invalidated by the revocation push. Null: off.</summary>
    public NearCacheOptions? NearCache { get; set; } = new();

    /// <summary>
    /// What the start-up log line calls the deployment's mode: <c>engine</c> for the engine alone (a worker, the CLI); a
    /// host's options name the credentials they accept (Bouncer.AspNetCore: <c>session</c>, <c>jwt</c>, <c>hybrid</c>).
    /// </summary>
    protected internal virtual string ModeName => "engine";

    /// <summary>The longest access token the engine signs: refresh-minted or exchanged.</summary>
    public TimeSpan MaxAccessTokenLifetime => Refresh.AccessTokenLifetime > ExchangeTokenLifetime ? Refresh.AccessTokenLifetime : ExchangeTokenLifetime;

    /// <summary>Throws <see cref="InvalidOperationException"/> with a message naming the bad setting.</summary>
    public virtual void Validate()
    {
        if (string.IsNullOrWhiteSpace(Issuer)) throw new InvalidOperationException("Bouncer:Issuer must be set.");
        if (string.IsNullOrWhiteSpace(Audience)) throw new InvalidOperationException("Bouncer:Audience must be set.");
        if (ExchangeTokenLifetime <= TimeSpan.Zero || ExchangeTokenLifetime > TimeSpan.FromMinutes(15))
            throw new InvalidOperationException("Bouncer:ExchangeTokenLifetime must be between 0 and 15 minutes.");
        if (KeyPrePublicationDelay < TimeSpan.Zero || KeyPrePublicationDelay > TimeSpan.FromDays(7))
            throw new InvalidOperationException("Bouncer:KeyPrePublicationDelay must be between 0 and 7 days.");
        // A key must sign for a while before its successor is added, or the ring would only ever grow.
        if (KeyRotationInterval <= KeyPrePublicationDelay || KeyRotationInterval < TimeSpan.FromSeconds(1) || KeyRotationInterval > TimeSpan.FromDays(3650))
            throw new InvalidOperationException("Bouncer:KeyRotationInterval must be longer than Bouncer:KeyPrePublicationDelay, at least 1 second and at most 10 years.");
        if (AuditRetention < TimeSpan.FromDays(1) || AuditRetention > TimeSpan.FromDays(3650))
            throw new InvalidOperationException("Bouncer:AuditRetention must be between 1 day and 10 years.");
        Nested("Sessions", Sessions.Validate);
        Nested("Refresh", Refresh.Validate);
        Nested("NearCache", () => NearCache?.Validate());
        Nested("Revocation", Revocation.Validate);
        Nested("Users", Users.Validate);
        Nested("KeyEncryption", KeyEncryption.Validate);
        Nested("Dpop", Dpop.Validate);
    }

    // Nested options throw ArgumentOutOfRangeException naming their own property: say which section it is in.
    private static void Nested(string section, Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException($"Bouncer:{section}:{e.ParamName}: {e.Message.Split(" (Parameter")[0]}", e);
        }
    }
}
