using Bouncer.Tokens;

namespace Bouncer.Dpop;

/// <summary>
/// DPoP (RFC 9449) policy: the mode, audiences that always need bound tokens, the proof algorithms, the <c>iat</c>
/// window, the replay cache's size and server-provided nonces. Bound from <c>Bouncer:Dpop</c> (the server) or set on
/// the downstream verifier's options. Validated at start.
/// </summary>
public sealed class DpopOptions
{
    /// <summary>Off, Optional (bind when the client sends a proof) or Required. Default Optional.</summary>
    public DpopMode Mode { get; set; } = DpopMode.Optional;

    /// <summary>
    /// Audiences whose tokens must be DPoP-bound whatever the <see cref="Mode"/> (unless Off): token requests for them
    /// need a proof, and a resource of that audience refuses unbound tokens. Empty by default.
    /// </summary>
    public List<string> RequiredAudiences { get; set; } = [];

    /// <summary>
    /// Proof algorithms accepted, a subset of ES256, EdDSA, PS256 and RS256 (never HS256 or none: a proof is signed by
    /// the client's public key, RFC 9449 4.2). Null: all four. Also the <c>algs</c> of the <c>DPoP</c> challenge.
    /// </summary>
    public IList<string>? Algorithms { get; set; }

    /// <summary>How old a proof's <c>iat</c> may be (RFC 9449 4.3 step 11, 11.1). Default 60 s; 1 s to 10 minutes.</summary>
    public TimeSpan ProofLifetime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How far a proof's <c>iat</c> may lie in the future (client clock drift). Default 5 s; at most 5 minutes.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The highest rate of proofs per second one instance is sized for: the replay cache holds every <c>jti</c> seen
    /// within the window, so it keeps rate x (lifetime + 2 skew + 1 s) entries. Past that, new proofs are refused with
    /// <c>503 dpop_replay_cache_full</c> instead of forgetting a <c>jti</c> that could then be replayed. Default 2000.
    /// </summary>
    public int MaxProofsPerSecond { get; set; } = 2000;

    /// <summary>
    /// Require a server-provided nonce in every proof (RFC 9449 8, 9): a proof without the current one is answered
    /// <c>use_dpop_nonce</c> with a fresh <c>DPoP-Nonce</c>. Limits pre-generated proofs. Default false.
    /// </summary>
    public bool RequireNonce { get; set; }

    /// <summary>How long a nonce is accepted: it changes every period and the previous one still passes. Default 5 minutes.</summary>
    public TimeSpan NonceLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>True when tokens for <paramref name="audience"/> must be bound.</summary>
    public bool BindingRequiredFor(string? audience) =>
        Mode == DpopMode.Required || (Mode != DpopMode.Off && audience is not null && RequiredAudiences.Contains(audience));

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad setting.</summary>
    public void Validate()
    {
        foreach (var name in Algorithms ?? [])
        {
            // RFC 9449 4.2: asymmetric only; a MAC would need a secret the server shares with the client.
            if (!JwsAlgorithms.TryParse(name, out var alg) || alg == JwsAlgorithm.HS256)
                throw new ArgumentOutOfRangeException(nameof(Algorithms), $"DPoP algorithm '{name}' is not allowed (ES256, EdDSA, PS256, RS256).");
        }
        if (Algorithms is { Count: 0 }) throw new ArgumentOutOfRangeException(nameof(Algorithms), "Algorithms must name at least one algorithm.");
        if (ProofLifetime < TimeSpan.FromSeconds(1) || ProofLifetime > TimeSpan.FromMinutes(10))
            throw new ArgumentOutOfRangeException(nameof(ProofLifetime), "ProofLifetime must be between 1 s and 10 minutes.");
        if (ClockSkew < TimeSpan.Zero || ClockSkew > TimeSpan.FromMinutes(5))
            throw new ArgumentOutOfRangeException(nameof(ClockSkew), "ClockSkew must be between 0 and 5 minutes.");
        if (MaxProofsPerSecond < 1 || MaxProofsPerSecond > 1_000_000)
            throw new ArgumentOutOfRangeException(nameof(MaxProofsPerSecond), "MaxProofsPerSecond must be between 1 and 1000000.");
        if (NonceLifetime < TimeSpan.FromSeconds(1) || NonceLifetime > TimeSpan.FromHours(24))
            throw new ArgumentOutOfRangeException(nameof(NonceLifetime), "NonceLifetime must be between 1 s and 24 hours.");
    }

    internal JwsAlgorithm[] ParsedAlgorithms() =>
        (Algorithms is { Count: > 0 } names ? names : ["ES256", "EdDSA", "PS256", "RS256"])
            .Select(n => JwsAlgorithms.TryParse(n, out var a) ? a : 0).Where(a => a != 0 && a != JwsAlgorithm.HS256).Distinct().ToArray();
}
