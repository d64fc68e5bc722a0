using System.Collections.Concurrent;

namespace Bouncer.Users;

/// <summary>In-process accounts for tests and single-process demos. Thread-safe.</summary>
public sealed class MemoryUserStore : IUserStore
{
    private readonly ConcurrentDictionary<string, UserRecord> _users = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct) => ValueTask.FromResult(_users.TryAdd(user.Username, user));

    /// <inheritdoc/>
    public ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct) => ValueTask.FromResult(_users.GetValueOrDefault(username));

    /// <inheritdoc/>
    public ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct)
    {
        while (_users.TryGetValue(user.Username, out var current))
        {
            if (_users.TryUpdate(user.Username, user with { PasswordHash = current.PasswordHash, CreatedAt = current.CreatedAt }, current))
                return ValueTask.FromResult(true);
        }
        return ValueTask.FromResult(false);
    }

    /// <inheritdoc/>
    public ValueTask<bool> SetPasswordHashAsync(string username, string passwordHash, CancellationToken ct)
    {
        while (_users.TryGetValue(username, out var current))
        {
            if (_users.TryUpdate(username, current with { PasswordHash = passwordHash }, current)) return ValueTask.FromResult(true);
        }
        return ValueTask.FromResult(false);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(string username, CancellationToken ct) => ValueTask.FromResult(_users.TryRemove(username, out _));

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<UserRecord>> ListAsync(string? prefix, string? after, int limit, CancellationToken ct)
    {
        IReadOnlyList<UserRecord> page = _users.Values
            .Where(u => (prefix is null || u.Username.StartsWith(prefix, StringComparison.Ordinal)) && (after is null || string.CompareOrdinal(u.Username, after) > 0))
            .OrderBy(u => u.Username, StringComparer.Ordinal)
            .Take(limit)
            .ToList();
        return ValueTask.FromResult(page);
    }

    /// <inheritdoc/>
    public ValueTask<bool> RecordFailedLoginAsync(string username, int maxFailures, DateTimeOffset lockUntil, CancellationToken ct)
    {
        while (_users.TryGetValue(username, out var current))
        {
            bool locks = current.FailedLogins + 1 >= maxFailures;
            var next = locks ? current with { FailedLogins = 0, LockedUntil = lockUntil } : current with { FailedLogins = current.FailedLogins + 1 };
            if (_users.TryUpdate(username, next, current)) return ValueTask.FromResult(locks);
        }
        return ValueTask.FromResult(false);
    }

    /// <inheritdoc/>
    public ValueTask<bool> ClearFailedLoginsAsync(string username, CancellationToken ct)
    {
        while (_users.TryGetValue(username, out var current))
            if (_users.TryUpdate(username, current with { FailedLogins = 0, LockedUntil = null }, current)) return ValueTask.FromResult(true);
        return ValueTask.FromResult(false);
    }

    /// <inheritdoc/>
    public ValueTask<bool> ReplacePasswordHashAsync(string username, string expectedHash, string passwordHash, CancellationToken ct)
    {
        while (_users.TryGetValue(username, out var current) && current.PasswordHash == expectedHash)
            if (_users.TryUpdate(username, current with { PasswordHash = passwordHash }, current)) return ValueTask.FromResult(true);
        return ValueTask.FromResult(false);
    }
}

/// <summary>In-process named values. Thread-safe.</summary>
public sealed class MemorySecretStore : ISecretStore
{
    private readonly ConcurrentDictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public ValueTask<string?> GetAsync(string name, CancellationToken ct) => ValueTask.FromResult(_values.GetValueOrDefault(name));

    /// <inheritdoc/>
    public ValueTask<string> GetOrAddAsync(string name, string value, CancellationToken ct) => ValueTask.FromResult(_values.GetOrAdd(name, value));

    /// <inheritdoc/>
    public ValueTask SetAsync(string name, string value, CancellationToken ct)
    {
        _values[name] = value;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<bool> ReplaceAsync(string name, string expected, string value, CancellationToken ct) =>
        ValueTask.FromResult(_values.TryUpdate(name, value, expected));
}
