namespace Bouncer.Refresh;

/// <summary>
/// One stored refresh token. The store keeps only <see cref="TokenHash"/> (base64url SHA-256 of the
/// token); the token itself exists only at the client. Instants are whole milliseconds.
/// </summary>
public sealed record RefreshRecord
{
    /// <summary>base64url SHA-256 of the refresh token: the primary key.</summary>
    public required string TokenHash { get; init; }

    /// <summary>The family: every token rotated from one login. Also the <c>sid</c> of its access tokens.</summary>
    public required string FamilyId { get; init; }

    /// <summary>The user the family belongs to.</summary>
    public required string UserId { get; init; }

    /// <summary>0 for the token issued at login, +1 per rotation.</summary>
    public required int Generation { get; init; }

    /// <summary>When this token was issued (login or rotation).</summary>
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>
    /// When the login that started the family proved the password (the <c>auth_time</c> of its access tokens): set at
    /// login, copied unchanged to every successor. Unset, as in a record a store wrote before it kept this field, it
    /// reads as <see cref="IssuedAt"/>: the family's start is then unknown and the record's own issue time is the
    /// latest instant the password can be said to have been proved.
    /// </summary>
    public DateTimeOffset AuthTime
    {
        get => _authTime ?? IssuedAt;
        init => _authTime = value;
    }

    private readonly DateTimeOffset? _authTime;

    /// <summary>Idle limit: unused until then, the token dies (never past <see cref="FamilyExpiresAt"/>).</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Absolute end of the family, set at login.</summary>
    public required DateTimeOffset FamilyExpiresAt { get; init; }

    /// <summary>When it was exchanged for its successor; null while it is the family's current token.</summary>
    public DateTimeOffset? RotatedAt { get; init; }

    /// <summary>Roles or scope carried into each access token of the family (space-separated), or null.</summary>
    public string? Scope { get; init; }

    /// <summary>True once the family was revoked (logout, theft, admin).</summary>
    public bool Revoked { get; init; }

    /// <summary>
    /// The RFC 7638 thumbprint of the DPoP key the family is bound to (RFC 9449 5): set at login when the client sent a
    /// proof, copied to every successor; a refresh then needs a proof by that key. Null: an unbound family (and every
    /// record a store wrote before it kept this field).
    /// </summary>
    public string? DpopJkt { get; init; }

    /// <summary>
    /// A keyed tag of the client (address and user agent) this token was handed to, never the address itself; null when
    /// unknown (issued outside a request, or stored before it was kept). A replay inside the grace window from another
    /// client is theft (RFC 9700 4.14.2).
    /// </summary>
    public string? Client { get; init; }

    /// <summary>Equal when every property is: an unset <see cref="AuthTime"/> equals one set to <see cref="IssuedAt"/>.</summary>
    public bool Equals(RefreshRecord? other) =>
        other is not null && TokenHash == other.TokenHash && FamilyId == other.FamilyId && UserId == other.UserId
        && Generation == other.Generation && IssuedAt == other.IssuedAt && AuthTime == other.AuthTime && ExpiresAt == other.ExpiresAt
        && FamilyExpiresAt == other.FamilyExpiresAt && RotatedAt == other.RotatedAt && Scope == other.Scope && Revoked == other.Revoked
        && DpopJkt == other.DpopJkt && Client == other.Client;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(TokenHash, FamilyId, Generation, IssuedAt, AuthTime, ExpiresAt, RotatedAt, Revoked);
}
