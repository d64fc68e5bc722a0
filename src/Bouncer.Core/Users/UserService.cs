using Bouncer.Diagnostics;

namespace Bouncer.Users;

/// <summary>Options of registration and login.</summary>
public sealed class UserOptions
{
    /// <summary>Consecutive failures that lock an account. Default 5.</summary>
    public int MaxFailedLogins { get; set; } = 5;

    /// <summary>How long a lockout lasts. Default 5 minutes.</summary>
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Shortest accepted password. Default 8 (OWASP ASVS 2.1.1).</summary>
    public int MinPasswordLength { get; set; } = 8;

    /// <summary>
    /// Whether a locked account answers <c>account_locked</c>. Default false: it answers <c>invalid_credentials</c>
    /// like an unknown name, because only an existing account can ever be locked, so telling it apart tells a
    /// guesser which names exist. Turn on when users must be told (the audit log and metrics always say locked).
    /// </summary>
    public bool RevealLockout { get; set; }

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        if (MaxFailedLogins < 1) throw new ArgumentOutOfRangeException(nameof(MaxFailedLogins), "MaxFailedLogins must be at least 1.");
        if (LockoutDuration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(LockoutDuration), "LockoutDuration must be positive.");
        if (MinPasswordLength is < 8 or > 1024) throw new ArgumentOutOfRangeException(nameof(MinPasswordLength), "MinPasswordLength must be between 8 (OWASP ASVS 6.2.1) and 1024.");
    }
}

/// <summary>Why a login or registration failed, or that it succeeded.</summary>
public enum UserOutcome
{
    /// <summary>The login or registration succeeded.</summary>
    Ok,
    /// <summary>Unknown user or wrong password: deliberately not told apart (<c>invalid_credentials</c>).</summary>
    InvalidCredentials,
    /// <summary>Too many failures (<c>account_locked</c>).</summary>
    Locked,
    /// <summary>Username taken (<c>username_taken</c>).</summary>
    Taken,
    /// <summary>Bad username or weak password (<c>invalid_request</c>).</summary>
    Invalid,
    /// <summary>The account is suspended (<c>user_suspended</c>, said only when the deployment reveals it).</summary>
    Suspended,
    /// <summary>No such account (<c>user_not_found</c>; admin operations only, never login).</summary>
    NotFound,
}

/// <summary>Accounts: registration, login with lockout. Thread-safe.</summary>
public sealed class UserService(IUserStore store, TimeProvider? time = null, UserOptions? options = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly UserOptions _options = options ?? new UserOptions();

    /// <summary>Normalises a username: trimmed, lower-case; null when empty, too long or with control characters.</summary>
    public static string? Normalize(string? username)
    {
        var u = username?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(u) || u.Length > 64 || u.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))) return null;
        return u;
    }

    /// <summary>True when <paramref name="password"/> meets the policy (length; OWASP ASVS 6.2.1, at most 1024 to bound hashing).</summary>
    public bool IsAcceptablePassword(string? password) =>
        password is not null && password.Length >= _options.MinPasswordLength && password.Length <= 1024;

    /// <summary>Creates an account.</summary>
    public async ValueTask<(UserOutcome Outcome, string? Username)> RegisterAsync(string? username, string? password, string roles, CancellationToken ct)
    {
        var name = Normalize(username);
        if (name is null || !IsAcceptablePassword(password)) return (UserOutcome.Invalid, null);
        var user = new UserRecord { Username = name, PasswordHash = await PasswordHasher.HashAsync(password!, ct).ConfigureAwait(false), Roles = roles, CreatedAt = _time.GetUtcNow() };
        return await store.CreateAsync(user, ct).ConfigureAwait(false) ? (UserOutcome.Ok, name) : (UserOutcome.Taken, null);
    }

    /// <summary>
    /// Checks a password, counting failures and locking the account after too many. A successful login whose stored
    /// hash is older or weaker than current ones (<see cref="PasswordHasher.NeedsRehash"/>) stores a fresh hash.
    /// </summary>
    public ValueTask<(UserOutcome Outcome, UserRecord? User)> AuthenticateAsync(string? username, string? password, CancellationToken ct) =>
        BouncerActivities.IsTraced ? AuthenticateTracedAsync(username, password, ct) : AuthenticateCoreAsync(username, password, ct);

    // The span names the outcome only: never the user name or the password.
    private async ValueTask<(UserOutcome Outcome, UserRecord? User)> AuthenticateTracedAsync(string? username, string? password, CancellationToken ct)
    {
        using var activity = BouncerActivities.Start(BouncerActivities.Login);
        try
        {
            var result = await AuthenticateCoreAsync(username, password, ct).ConfigureAwait(false);
            BouncerActivities.SetOutcome(activity, result.Outcome == UserOutcome.Ok ? "accepted" : "refused", result.Outcome switch
            {
                UserOutcome.Ok => null,
                UserOutcome.Locked => FailureCodes.AccountLocked,
                UserOutcome.Suspended => FailureCodes.UserSuspended,
                _ => FailureCodes.InvalidCredentials,
            });
            return result;
        }
        catch (Exception ex) when (BouncerActivities.Failed(activity, ex))
        {
            throw;
        }
    }

    private async ValueTask<(UserOutcome Outcome, UserRecord? User)> AuthenticateCoreAsync(string? username, string? password, CancellationToken ct)
    {
        var name = Normalize(username);
        var user = name is null ? null : await store.GetAsync(name, ct).ConfigureAwait(false);
        if (user is null || password is null || password.Length > 1024)
        {
            await PasswordHasher.VerifyAsync(PasswordHasher.Decoy, password ?? "", ct).ConfigureAwait(false);   // same cost as a real check
            // And the same store round trip as a wrong password on a real account: the failure count of a name that
            // does not exist (a statement that matches nothing), so timing does not tell the two apart.
            if (name is not null) await store.RecordFailedLoginAsync(name, _options.MaxFailedLogins, _time.GetUtcNow() + _options.LockoutDuration, ct).ConfigureAwait(false);
            return (UserOutcome.InvalidCredentials, null);
        }
        var now = _time.GetUtcNow();
        if (user.LockedUntil is { } until && until > now)
        {
            // The check runs anyway, right password or not: a locked account must cost what any other attempt costs.
            await PasswordHasher.VerifyAsync(user.PasswordHash, password, ct).ConfigureAwait(false);
            return (UserOutcome.Locked, null);
        }
        if (user.Suspended)
        {
            // Like a lockout: the check costs what any attempt costs, and a right password gets nothing.
            if (!await PasswordHasher.VerifyAsync(user.PasswordHash, password, ct).ConfigureAwait(false))
                await store.RecordFailedLoginAsync(user.Username, _options.MaxFailedLogins, now + _options.LockoutDuration, ct).ConfigureAwait(false);
            return (UserOutcome.Suspended, null);
        }
        if (!await PasswordHasher.VerifyAsync(user.PasswordHash, password, ct).ConfigureAwait(false))
        {
            var locked = await store.RecordFailedLoginAsync(user.Username, _options.MaxFailedLogins, now + _options.LockoutDuration, ct).ConfigureAwait(false);
            return (locked ? UserOutcome.Locked : UserOutcome.InvalidCredentials, null);
        }
        // Only the two lockout fields: the record read before the password check is stale by a hash's time, and writing
        // it back would undo a suspension or a role change made meanwhile.
        if (user.FailedLogins != 0 || user.LockedUntil is not null)
            await store.ClearFailedLoginsAsync(user.Username, ct).ConfigureAwait(false);
        var checkedHash = user.PasswordHash;
        if (PasswordHasher.NeedsRehash(checkedHash))
        {
            // An older hash (PBKDF2, or weaker Argon2id) becomes a current one now that the password is known. Only over
            // the hash just checked, in one store step: a password change since the read must not be undone by this login.
            var fresh = await PasswordHasher.HashAsync(password, ct).ConfigureAwait(false);
            if (await store.ReplacePasswordHashAsync(user.Username, checkedHash, fresh, ct).ConfigureAwait(false)) checkedHash = fresh;
        }
        // Read again after the hash (tens of milliseconds): a suspension, role change or password change that landed
        // meanwhile decides this login, not the record read before it. A suspension cuts off the tokens issued before the
        // next whole second, so without this a login that read the account just before it could issue tokens that pass.
        var current = await store.GetAsync(user.Username, ct).ConfigureAwait(false);
        // The password just checked is no longer the account's (changed meanwhile): it opens nothing.
        if (current is null || current.PasswordHash != checkedHash) return (UserOutcome.InvalidCredentials, null);
        if (current.Suspended) return (UserOutcome.Suspended, null);
        return (UserOutcome.Ok, current);
    }
}
