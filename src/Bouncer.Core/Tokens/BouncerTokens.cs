using Bouncer.Users;

namespace Bouncer.Tokens;

/// <summary>
/// The deployment's token identity, loaded from its secret store: the issuer name every instance shares, the key
/// ring, the signer and the verifier of this deployment's own access tokens. Ready when constructed.
/// </summary>
public sealed class BouncerTokens
{
    private readonly TimeProvider _time;
    private readonly bool _requireTyp;

    private BouncerTokens(string issuer, string audience, KeyRing keys, BouncerEngineOptions options, TimeProvider time)
    {
        Issuer = issuer;
        Audience = audience;
        Keys = keys;
        _time = time;
        _requireTyp = !options.AllowMissingTyp;
        Signer = new JwsIssuer(keys, new IssueOptions
        {
            Issuer = issuer,
            Audience = audience,
            DefaultLifetime = options.Refresh.AccessTokenLifetime,
            MaxLifetime = options.MaxAccessTokenLifetime,
        }, time);
        Verifier = VerifierFor(audience);
    }

    /// <summary>The <c>iss</c> of every token of the deployment (the first instance's setting wins; stored).</summary>
    public string Issuer { get; }

    /// <summary>The <c>aud</c> of the deployment's own access tokens.</summary>
    public string Audience { get; }

    /// <summary>The signing and verification keys, shared through the secret store.</summary>
    public KeyRing Keys { get; }

    /// <summary>Signs access tokens.</summary>
    public JwsIssuer Signer { get; }

    /// <summary>Verifies the deployment's own access tokens (its issuer and audience).</summary>
    public JwsVerifier Verifier { get; }

    /// <summary>A verifier of this issuer's tokens minted for another audience (the hybrid exchange's downstream services).</summary>
    public JwsVerifier VerifierFor(string audience) =>
        new(Keys, new VerifyOptions { Issuer = Issuer, Audience = audience, RequireTyp = _requireTyp }, _time);

    /// <summary>
    /// Loads (creating on the deployment's first start) the issuer name and the key ring from <paramref name="secrets"/>.
    /// Two instances starting at once agree: the first stored value wins.
    /// </summary>
    public static async Task<BouncerTokens> LoadAsync(ISecretStore secrets, BouncerEngineOptions options, TimeProvider time, CancellationToken ct)
    {
        var issuer = await secrets.GetOrAddAsync("issuer", options.Issuer, ct).ConfigureAwait(false);
        var ringOptions = new KeyRingOptions
        {
            Algorithm = options.SigningAlgorithm,
            // Retirement waits for the longest token the engine signs, plus the larger of the verifiers' and the refresh skew.
            MaxTokenLifetime = options.MaxAccessTokenLifetime,
            ClockSkew = options.Refresh.ClockSkew > TimeSpan.FromSeconds(30) ? options.Refresh.ClockSkew : TimeSpan.FromSeconds(30),
            PrePublicationDelay = options.KeyPrePublicationDelay,
            RotationInterval = options.KeyRotationInterval,
        };
        var keys = await KeyRing.LoadOrCreateAsync(new SecretKeyStore(secrets), ringOptions, time, ct).ConfigureAwait(false);
        return new BouncerTokens(issuer, options.Audience, keys, options, time);
    }
}
