using Bouncer.Users;
using StackExchange.Redis;
using static Bouncer.Stores.Redis.RedisKeyspace;

namespace Bouncer.Stores.Redis;

/// <summary>Keeps accounts in Redis: one hash per user.</summary>
/// <remarks>
/// <para><b>Key layout.</b> <c>{prefix}user:{userdigest}</c>, a hash (fields <c>n</c> username, <c>p</c>
/// password hash, <c>r</c> roles, <c>f</c> failed logins, <c>l</c> locked until and <c>c</c> created, both
/// Unix ms), where userdigest is the base64url SHA-256 of the username: usernames are often e-mail
/// addresses, and key names show up in monitoring tools and slow logs. No TTL: accounts do not expire.</para>
/// <para><b>What is atomic.</b> Each operation is one command or script on one key: create (fails when the
/// username is taken: of racing registrations exactly one wins) and update (only an existing account; the
/// password hash and creation time are kept).</para>
/// <para>Thread-safe. The caller owns the connection. Use <c>maxmemory-policy noeviction</c>: an evicted
/// account is a lost account.</para>
/// </remarks>
public sealed class RedisUserStore : IUserStore
{
    // KEYS[1] user. ARGV: username, password hash, roles, failed, has-lock, locked-until, created.
    // EXISTS then write in one script: SET NX semantics for a hash, and no reader sees half an account.
    private const string CreateScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'n', ARGV[1], 'p', ARGV[2], 'r', ARGV[3], 'f', ARGV[4], 'c', ARGV[7])
        if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'l', ARGV[6]) end
        return 1
        """;

    // KEYS[1] user. ARGV: roles, failed, has-lock, locked-until. Only an existing account: an update racing
    // a deletion never brings the account back half-written.
    private const string UpdateScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'r', ARGV[1], 'f', ARGV[2])
        if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'l', ARGV[4]) else redis.call('HDEL', KEYS[1], 'l') end
        return 1
        """;

    // KEYS[1] user. ARGV: max failures, locked-until. Returns 1 when this failure locked the account, 0 when it only
    // counted, -1 when the account is gone. One script: racing failures are counted one by one.
    private const string RecordFailureScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
        local failed = redis.call('HINCRBY', KEYS[1], 'f', 1)
        if failed >= tonumber(ARGV[1]) then
            redis.call('HSET', KEYS[1], 'f', 0, 'l', ARGV[2])
            return 1
        end
        return 0
        """;

    private readonly IDatabase _db;
    private readonly string _prefix;

    /// <summary>Uses a connection the caller owns (and disposes). Only KeyPrefix and Database are read.</summary>
    /// <exception cref="ArgumentException">The key prefix contains a brace.</exception>
    public RedisUserStore(IConnectionMultiplexer redis, RedisStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        options ??= new RedisStoreOptions();
        options.Validate();
        _db = redis.GetDatabase(options.Database);
        _prefix = options.KeyPrefix;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        ct.ThrowIfCancellationRequested();
        var created = await _db.ScriptEvaluateAsync(CreateScript, [UserKey(user.Username)],
        [
            user.Username, user.PasswordHash, user.Roles, user.FailedLogins, user.LockedUntil is null ? "0" : "1",
            UnixMs(user.LockedUntil ?? default), UnixMs(user.CreatedAt),
        ]).WaitAsync(ct).ConfigureAwait(false);
        return (long)created == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ct.ThrowIfCancellationRequested();
        var fields = await _db.HashGetAllAsync(UserKey(username)).WaitAsync(ct).ConfigureAwait(false);
        if (fields.Length == 0) return null;
        string? name = null, hash = null, roles = null;
        int failed = 0;
        long created = 0;
        long? locked = null;
        foreach (var f in fields)
        {
            switch ((string)f.Name!)
            {
                case "n": name = f.Value; break;
                case "p": hash = f.Value; break;
                case "r": roles = f.Value; break;
                case "f": failed = (int)f.Value; break;
                case "l": locked = (long)f.Value; break;
                case "c": created = (long)f.Value; break;
            }
        }
        // A hash without name or password is not one of ours: treat it as absent.
        if (name is null || hash is null) return null;
        return new UserRecord
        {
            Username = name, PasswordHash = hash, Roles = roles ?? "", FailedLogins = failed,
            LockedUntil = locked is { } l ? DateTimeOffset.FromUnixTimeMilliseconds(l) : null,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(created),
        };
    }

    /// <inheritdoc/>
    public async ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        ct.ThrowIfCancellationRequested();
        var updated = await _db.ScriptEvaluateAsync(UpdateScript, [UserKey(user.Username)],
            [user.Roles, user.FailedLogins, user.LockedUntil is null ? "0" : "1", UnixMs(user.LockedUntil ?? default)]).WaitAsync(ct).ConfigureAwait(false);
        return (long)updated == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> RecordFailedLoginAsync(string username, int maxFailures, DateTimeOffset lockUntil, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ct.ThrowIfCancellationRequested();
        var result = await _db.ScriptEvaluateAsync(RecordFailureScript, [UserKey(username)],
            [maxFailures, UnixMs(lockUntil)]).WaitAsync(ct).ConfigureAwait(false);
        return (long)result == 1;
    }

    // A digest, not the username: usernames are often e-mail addresses, and key names show up in logs.
    internal RedisKey UserKey(string username) => $"{_prefix}user:{{{Digest(username)}}}";
}
