namespace Bouncer.Tokens;

/// <summary>What a <see cref="JwsVerifier"/> requires of a token. Strict by default.</summary>
public sealed class VerifyOptions
{
    /// <summary>The exact <c>iss</c> required (string comparison, no normalisation). Required.</summary>
    public required string Issuer { get; init; }

    /// <summary>The audience that <c>aud</c> (a string or an array) must contain. Required.</summary>
    public required string Audience { get; init; }

    /// <summary>Leeway applied to <c>exp</c>, <c>nbf</c> and <c>iat</c>. Default 30 s; 0 to 5 minutes.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Tokens longer than this many bytes are refused before any other work. Default 8 KiB.</summary>
    public int MaxTokenBytes { get; init; } = 8192;

    /// <summary>Maximum nesting of the payload JSON (the payload object itself is depth 1). Default 8.</summary>
    public int MaxJsonDepth { get; init; } = 8;

    /// <summary>
    /// When true (the default) a token without <c>typ</c> is refused; when false it is accepted. A <c>typ</c> that is
    /// present must be <c>at+jwt</c> or <c>application/at+jwt</c> (RFC 9068 2.1) either way.
    /// </summary>
    public bool RequireTyp { get; init; } = true;

    /// <summary>
    /// Further <c>typ</c> values accepted besides <c>at+jwt</c>, compared case-insensitively (RFC 7515 4.1.9), e.g.
    /// <c>["JWT"]</c> for an outside issuer whose access tokens are typed as plain JWTs. Default empty: only
    /// <c>at+jwt</c>. Each value is 1 to 32 ASCII characters. Widening this weakens the protection against token
    /// confusion (RFC 8725 3.11): set it per outside issuer, never for Bouncer's own tokens.
    /// </summary>
    public IReadOnlyList<string> AcceptedTypes { get; init; } = [];

    internal void Validate()
    {
        if (string.IsNullOrEmpty(Issuer)) throw new ArgumentException("Issuer is required", nameof(Issuer));
        if (string.IsNullOrEmpty(Audience)) throw new ArgumentException("Audience is required", nameof(Audience));
        if (ClockSkew < TimeSpan.Zero || ClockSkew > TimeSpan.FromMinutes(5))
            throw new ArgumentOutOfRangeException(nameof(ClockSkew), ClockSkew, "between 0 and 5 minutes");
        if (MaxTokenBytes is < 64 or > 1 << 20)
            throw new ArgumentOutOfRangeException(nameof(MaxTokenBytes), MaxTokenBytes, "between 64 bytes and 1 MiB");
        if (MaxJsonDepth is < 1 or > 64)
            throw new ArgumentOutOfRangeException(nameof(MaxJsonDepth), MaxJsonDepth, "between 1 and 64");
        ArgumentNullException.ThrowIfNull(AcceptedTypes);
        foreach (var typ in AcceptedTypes)
        {
            // The header reader compares typ in a 32-byte buffer without allocating; longer values could never match.
            if (string.IsNullOrEmpty(typ) || typ.Length > 32 || !System.Text.Ascii.IsValid(typ))
                throw new ArgumentException("each accepted typ is 1 to 32 ASCII characters", nameof(AcceptedTypes));
        }
    }
}
