namespace Bouncer.Revocation;

/// <summary>What a revocation entry names.</summary>
public enum RevocationKind : byte
{
    /// <summary>A session or refresh family id (the <c>sid</c> claim): every token of it dies.</summary>
    Session = 1,

    /// <summary>One access token (the <c>jti</c> claim).</summary>
    Token = 2,

    /// <summary>Every token of a user (<c>sub</c>) issued before <see cref="RevocationRecord.At"/>.</summary>
    User = 3,

    /// <summary>
    /// Everyone (an incident's "revoke all"): every token, session and refresh family issued or started before
    /// <see cref="RevocationRecord.At"/>. The subject is <c>*</c>.
    /// </summary>
    Everyone = 4,

    /// <summary>
    /// A compromised signing key (the subject is its <c>kid</c>): every token whose signature that key verifies is
    /// refused, whatever its claims say, on every instance and downstream verifier, even one whose cached JWKS still
    /// holds the key.
    /// </summary>
    Key = 5,

    /// <summary>
    /// A user signed out everywhere (the subject is the <c>sub</c>): every access and refresh token of the user issued,
    /// and every session started, before <see cref="RevocationRecord.At"/>. Instances refuse those sessions and refresh
    /// families from this entry alone, before their delete or revoke has reached the store (and then delete or revoke
    /// them themselves); the HTTP feed carries it as <c>user</c>, the part a token verifier checks.
    /// </summary>
    SignOut = 6,
}

/// <summary>
/// One revocation. <paramref name="ExpiresAt"/> is when the entry can be forgotten: the moment the last
/// token it could affect has expired (revocation time + longest access-token lifetime + skew), so the
/// in-memory set stays bounded by the revocations of one token lifetime.
/// </summary>
public readonly record struct RevocationRecord(RevocationKind Kind, string Subject, DateTimeOffset At, DateTimeOffset ExpiresAt);

/// <summary>A revocation with its position in the durable log. Cursors grow strictly.</summary>
public readonly record struct RevocationEntry(long Cursor, RevocationRecord Revocation);
