namespace Bouncer.Users;

/// <summary>A stored account. The password is kept only as a hash (Argon2id; older accounts PBKDF2 until their next login).</summary>
public sealed record UserRecord
{
    /// <summary>The login name, normalised (trimmed, lower-case invariant): the primary key and the <c>sub</c>.</summary>
    public required string Username { get; init; }

    /// <summary>Self-describing password hash, Argon2id or older PBKDF2 (see <see cref="PasswordHasher"/>).</summary>
    public required string PasswordHash { get; init; }

    /// <summary>Space-separated roles, e.g. "admin".</summary>
    public string Roles { get; init; } = "";

    /// <summary>Consecutive failed logins since the last success.</summary>
    public int FailedLogins { get; init; }

    /// <summary>Refuse logins until then (lockout), or null.</summary>
    public DateTimeOffset? LockedUntil { get; init; }

    /// <summary>When the user was registered.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// Suspended by an admin: no login succeeds and every credential of the account is refused until unsuspended.
    /// </summary>
    public bool Suspended { get; init; }
}

/// <summary>Persists accounts. "Not found" is a result; exceptions mean broken infrastructure.</summary>
public interface IUserStore
{
    /// <summary>Inserts a new account; false when the username is taken (atomic: two racing registrations, one winner).</summary>
    ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct);

    /// <summary>The account, or null.</summary>
    ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct);

    /// <summary>
    /// Replaces roles, failure count, lockout and suspension of an existing account (never its password hash or
    /// creation time); false when it is gone.
    /// </summary>
    ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct);

    /// <summary>Replaces the password hash of an existing account; false when it is gone.</summary>
    ValueTask<bool> SetPasswordHashAsync(string username, string passwordHash, CancellationToken ct);

    /// <summary>Deletes the account; false when it was not there.</summary>
    ValueTask<bool> DeleteAsync(string username, CancellationToken ct);

    /// <summary>
    /// Up to <paramref name="limit"/> accounts in ordinal order of username: those whose name starts with
    /// <paramref name="prefix"/> (null: any) and sorts after <paramref name="after"/> (null: from the first), so a
    /// caller pages by passing the last name it got.
    /// </summary>
    ValueTask<IReadOnlyList<UserRecord>> ListAsync(string? prefix, string? after, int limit, CancellationToken ct);

    /// <summary>
    /// Counts one failed login in a single atomic step: the count goes up by one and, on reaching
    /// <paramref name="maxFailures"/>, goes back to 0 while the account is locked until <paramref name="lockUntil"/>.
    /// Atomic so that parallel guesses (on one instance or many) cannot each read the same count and write it back
    /// plus one. True when this failure locked the account; false otherwise, also when the account is gone.
    /// </summary>
    ValueTask<bool> RecordFailedLoginAsync(string username, int maxFailures, DateTimeOffset lockUntil, CancellationToken ct);

    /// <summary>
    /// After a right password: the failure count back to 0 and no lockout, in one step that writes nothing else. A
    /// login holds a record read before its password check; writing that whole record back would undo a suspension or
    /// a role change made meanwhile. False when the account is gone.
    /// </summary>
    ValueTask<bool> ClearFailedLoginsAsync(string username, CancellationToken ct);

    /// <summary>
    /// Sets the password hash only while the stored one is still <paramref name="expectedHash"/>, in one step: the
    /// rehash of a login must not undo a password change that landed after the login read the account. False when the
    /// hash changed meanwhile or the account is gone.
    /// </summary>
    ValueTask<bool> ReplacePasswordHashAsync(string username, string expectedHash, string passwordHash, CancellationToken ct);
}

/// <summary>
/// Persists one named text value shared by every instance of a deployment (the private signing-key set,
/// the refresh derivation key, the issuer name). Values can hold secrets: never log them.
/// </summary>
public interface ISecretStore
{
    /// <summary>The value, or null when never set.</summary>
    ValueTask<string?> GetAsync(string name, CancellationToken ct);

    /// <summary>Sets the value unless one exists; returns the value now stored (the winner of a race).</summary>
    ValueTask<string> GetOrAddAsync(string name, string value, CancellationToken ct);

    /// <summary>Replaces the value.</summary>
    ValueTask SetAsync(string name, string value, CancellationToken ct);

    /// <summary>
    /// Replaces the value only while it still equals <paramref name="expected"/> (compare-and-set, atomic): true when
    /// replaced; false when it changed meanwhile or was never set. For read-modify-write by several instances, such as
    /// a key rotation, so that one instance's change never silently overwrites another's.
    /// </summary>
    ValueTask<bool> ReplaceAsync(string name, string expected, string value, CancellationToken ct);
}
