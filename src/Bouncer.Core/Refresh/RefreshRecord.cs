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
}
