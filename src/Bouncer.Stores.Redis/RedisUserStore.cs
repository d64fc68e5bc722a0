using Bouncer.Users;
using StackExchange.Redis;
using static Bouncer.Stores.Redis.RedisKeyspace;

namespace Bouncer.Stores.Redis;

/// <summary>Keeps accounts in Redis: one hash per user, and a sorted set of the names for listing.</summary>
/// <remarks>
/// <para><b>Key layout.</b> <c>{prefix}user:{userdigest}</c>, a hash (fields <c>n</c> username, <c>p</c>
/// password hash, <c>r</c> roles, <c>f</c> failed logins, <c>l</c> locked until and <c>c</c> created, both
/// Unix ms, <c>s</c> suspended, <c>1</c> or absent), where userdigest is the base64url SHA-256 of the username:
/// usernames are often e-mail addresses, and key names show up in monitoring tools and slow logs. No TTL: accounts
/// do not expire. <c>{prefix}users</c>, a sorted set of every username (score 0, so ZRANGEBYLEX pages them in
/// byte order), read only by <see cref="ListAsync"/>.</para>
/// <para><b>What is atomic.</b> Each operation on an account is one command or script on its one key: create
/// (fails when the username is taken: of racing registrations exactly one wins), update (only an existing account;
/// the password hash and creation time are kept), set password hash, delete. The name index lives in another
/// slot (on Redis Cluster a script cannot touch both), so it is kept in step by ordered commands instead: a create
/// adds the name after writing the account; a delete removes the account, then the name, then adds the name back
/// if the account exists again (a racing re-registration). A process dying between the two steps leaves an
/// account without index entry (added back by the backfill below) or a name without account (skipped by
/// <see cref="ListAsync"/>).</para>
/// <para><b>Accounts created before the index.</b> The first <see cref="ListAsync"/> of each store instance walks
/// the <c>{prefix}user:*</c> keys with SCAN on every primary and adds their names, so accounts of an older version
/// are listed too; later calls read only the index.</para>
/// <para>Thread-safe. The caller owns the connection. Use <c>maxmemory-policy noeviction</c>: an evicted
/// account is a lost account.</para>
/// </remarks>
public sealed class RedisUserStore : IUserStore
{
    // KEYS[1] user. ARGV: username, password hash, roles, failed, has-lock, locked-until, created, suspended.
    // EXISTS then write in one script: SET NX semantics for a hash, and no reader sees half an account.
    private const string CreateScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'n', ARGV[1], 'p', ARGV[2], 'r', ARGV[3], 'f', ARGV[4], 'c', ARGV[7])
        if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'l', ARGV[6]) end
        if ARGV[8] == '1' then redis.call('HSET', KEYS[1], 's', '1') end
        return 1
        """;

    // KEYS[1] user. ARGV: roles, failed, has-lock, locked-until, suspended. Only an existing account: an update
    // racing a deletion never brings the account back half-written.
    private const string UpdateScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'r', ARGV[1], 'f', ARGV[2])
        if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'l', ARGV[4]) else redis.call('HDEL', KEYS[1], 'l') end
        if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 's', '1') else redis.call('HDEL', KEYS[1], 's') end
        return 1
        """;

    // KEYS[1] user. ARGV: password hash. Only an existing account.
    private const string SetPasswordHashScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'p', ARGV[1])
        return 1
        """;

    // KEYS[1] user. ARGV: expected hash, new hash. Only while the stored hash is still the expected one.
    private const string ReplacePasswordHashScript = """
        if redis.call('HGET', KEYS[1], 'p') ~= ARGV[1] then return 0 end
        redis.call('HSET', KEYS[1], 'p', ARGV[2])
        return 1
        """;

    // KEYS[1] user. Only the failure count and the lockout; only an existing account.
    private const string ClearFailuresScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'f', 0)
        redis.call('HDEL', KEYS[1], 'l')
        return 1
        """;

    // The name index is read in pages of this many names (more when names without account are skipped).
    private const int ListPageSize = 100;

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

    private readonly IConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly string _prefix;
    private readonly Lock _backfillGate = new();
    private Task? _backfill;

    /// <summary>Uses a connection the caller owns (and disposes). Only KeyPrefix and Database are read.</summary>
    /// <exception cref="ArgumentException">The key prefix contains a brace.</exception>
    public RedisUserStore(IConnectionMultiplexer redis, RedisStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        options ??= new RedisStoreOptions();
        options.Validate();
        _redis = redis;
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
            UnixMs(user.LockedUntil ?? default), UnixMs(user.CreatedAt), user.Suspended ? "1" : "0",
        ]).WaitAsync(ct).ConfigureAwait(false);
        if ((long)created != 1) return false;
        // After the account (see the remarks): a process dying right here leaves the name out, which the backfill repairs.
        await _db.SortedSetAddAsync(IndexKey, user.Username, 0).WaitAsync(ct).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc/>
    public async ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ct.ThrowIfCancellationRequested();
        var fields = await _db.HashGetAllAsync(UserKey(username)).WaitAsync(ct).ConfigureAwait(false);
        return Parse(fields);
    }

    private static UserRecord? Parse(HashEntry[] fields)
    {
        if (fields.Length == 0) return null;
        string? name = null, hash = null, roles = null;
        int failed = 0;
        long created = 0;
        long? locked = null;
        var suspended = false;
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
                case "s": suspended = f.Value == "1"; break;
            }
        }
        // A hash without name or password is not one of ours: treat it as absent.
        if (name is null || hash is null) return null;
        return new UserRecord
        {
            Username = name, PasswordHash = hash, Roles = roles ?? "", FailedLogins = failed,
            LockedUntil = locked is { } l ? DateTimeOffset.FromUnixTimeMilliseconds(l) : null,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(created),
            Suspended = suspended,
        };
    }

    /// <inheritdoc/>
    public async ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        ct.ThrowIfCancellationRequested();
        var updated = await _db.ScriptEvaluateAsync(UpdateScript, [UserKey(user.Username)],
            [user.Roles, user.FailedLogins, user.LockedUntil is null ? "0" : "1", UnixMs(user.LockedUntil ?? default), user.Suspended ? "1" : "0"])
            .WaitAsync(ct).ConfigureAwait(false);
        return (long)updated == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> SetPasswordHashAsync(string username, string passwordHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(passwordHash);
        ct.ThrowIfCancellationRequested();
        var set = await _db.ScriptEvaluateAsync(SetPasswordHashScript, [UserKey(username)], [passwordHash]).WaitAsync(ct).ConfigureAwait(false);
        return (long)set == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ReplacePasswordHashAsync(string username, string expectedHash, string passwordHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(expectedHash);
        ArgumentNullException.ThrowIfNull(passwordHash);
        ct.ThrowIfCancellationRequested();
        var set = await _db.ScriptEvaluateAsync(ReplacePasswordHashScript, [UserKey(username)], [expectedHash, passwordHash]).WaitAsync(ct).ConfigureAwait(false);
        return (long)set == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ClearFailedLoginsAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ct.ThrowIfCancellationRequested();
        var cleared = await _db.ScriptEvaluateAsync(ClearFailuresScript, [UserKey(username)]).WaitAsync(ct).ConfigureAwait(false);
        return (long)cleared == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ct.ThrowIfCancellationRequested();
        var key = UserKey(username);
        var deleted = await _db.KeyDeleteAsync(key).WaitAsync(ct).ConfigureAwait(false);
        await _db.SortedSetRemoveAsync(IndexKey, username).WaitAsync(ct).ConfigureAwait(false);
        // A registration of the same name between the DEL and the ZREM added its name before this removed it: put it
        // back. A registration after this check adds its own name after its account, so none is lost.
        if (await _db.KeyExistsAsync(key).WaitAsync(ct).ConfigureAwait(false))
            await _db.SortedSetAddAsync(IndexKey, username, 0).WaitAsync(ct).ConfigureAwait(false);
        return deleted;
    }

    /// <inheritdoc/>
    /// <remarks>Names compare by their UTF-8 bytes (ZRANGEBYLEX): the same as ordinal UTF-16 order except between
    /// characters above U+FFFF and those from U+E000 to U+FFFF.</remarks>
    public async ValueTask<IReadOnlyList<UserRecord>> ListAsync(string? prefix, string? after, int limit, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 0);
        if (limit == 0) return [];
        await EnsureIndexAsync(ct).ConfigureAwait(false);
        prefix ??= "";
        // Names starting with the prefix sort from the prefix itself up to, not including, the prefix followed by
        // byte 0xFF, which never occurs in UTF-8.
        RedisValue max = prefix.Length == 0 ? RedisValue.Null : (byte[])[.. System.Text.Encoding.UTF8.GetBytes(prefix), 0xFF];
        var page = new List<UserRecord>(Math.Min(limit, ListPageSize));
        string? last = after;
        while (page.Count < limit)
        {
            // Start at whichever bound is later: the prefix (inclusive) or the last name seen (exclusive).
            var fromAfter = last is not null && string.CompareOrdinal(last, prefix) >= 0;
            RedisValue min = fromAfter ? last : prefix.Length == 0 ? RedisValue.Null : prefix;
            var exclude = (fromAfter ? Exclude.Start : Exclude.None) | (prefix.Length == 0 ? Exclude.None : Exclude.Stop);
            var want = Math.Min(limit - page.Count, ListPageSize);
            var names = await _db.SortedSetRangeByValueAsync(IndexKey, min, max, exclude, Order.Ascending, 0, want).WaitAsync(ct).ConfigureAwait(false);
            if (names.Length == 0) break;
            // Pipelined: one round trip for the page. A name whose account is gone (a delete half done) is skipped.
            var records = await Task.WhenAll(names.Select(n => _db.HashGetAllAsync(UserKey((string)n!)))).WaitAsync(ct).ConfigureAwait(false);
            foreach (var fields in records)
                if (Parse(fields) is { } user) page.Add(user);
            last = names[^1];
            if (names.Length < want) break;
        }
        return page;
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

    internal RedisKey IndexKey => $"{_prefix}users";

    // Once per instance (again after a failure): the names of accounts created before the index existed.
    private Task EnsureIndexAsync(CancellationToken ct)
    {
        lock (_backfillGate)
        {
            if (_backfill is null || _backfill.IsFaulted || _backfill.IsCanceled) _backfill = BackfillAsync();
            return _backfill.WaitAsync(ct);
        }
    }

    private async Task BackfillAsync()
    {
        var pattern = EscapeGlob(_prefix + "user:") + "*";
        foreach (var server in _redis.GetServers().Where(s => !s.IsReplica))
        {
            var batch = new List<RedisKey>(ScanBatch);
            await foreach (var key in server.KeysAsync(_db.Database, pattern, pageSize: ScanBatch).ConfigureAwait(false))
            {
                batch.Add(key);
                if (batch.Count == ScanBatch) await IndexAsync(batch).ConfigureAwait(false);
            }
            await IndexAsync(batch).ConfigureAwait(false);
        }
    }

    private const int ScanBatch = 250;

    private async Task IndexAsync(List<RedisKey> keys)
    {
        if (keys.Count == 0) return;
        var names = await Task.WhenAll(keys.Select(k => _db.HashGetAsync(k, "n"))).ConfigureAwait(false);
        keys.Clear();
        // Only names of accounts that exist now; ZADD of a name already there changes nothing (score 0 either way).
        var entries = names.Where(n => !n.IsNull).Select(n => new SortedSetEntry(n, 0)).ToArray();
        if (entries.Length > 0) await _db.SortedSetAddAsync(IndexKey, entries).ConfigureAwait(false);
    }
}
