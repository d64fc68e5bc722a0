using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Sessions;
using StackExchange.Redis;
using static Bouncer.Stores.Redis.RedisKeyspace;

namespace Bouncer.Stores.Redis;

/// <summary>
/// Keeps sessions in Redis (standalone, replicated or Cluster) through StackExchange.Redis.
/// </summary>
/// <remarks>
/// <para><b>Key layout.</b> Two kinds of key, each with its own hash tag:</para>
/// <list type="bullet">
/// <item><c>{prefix}s:{handle}</c>: one hash per session (fields <c>u</c> user, <c>d</c> data, <c>c</c>
/// client, <c>ca</c> <c>ls</c> <c>ea</c> <c>aa</c> instants in Unix ms), where handle is the base64url
/// SHA-256 session key. TTL = ExpiresAt - now + slack.</item>
/// <item><c>{prefix}u:{userdigest}</c>: the user index, a sorted set of 32-byte session keys scored by
/// the highest ExpiresAt ever written for them; userdigest is base64url SHA-256 of the user id, so no
/// live id and no user id appears in a key name. Its TTL follows its longest-lived record.</item>
/// <item><c>{prefix}x:{n}</c>, n in 0..15: the expiry index, sixteen sorted sets (each its own hash tag, so
/// on Cluster they spread over the slots) of 64-byte members, session key then SHA-256 of the user id,
/// scored like the user index. The session key's first byte picks the set. Sweep reads it by score, so it
/// never walks the keyspace; it has no TTL and sweep removes its entries, including those of records that
/// were deleted or that Redis dropped by TTL.</item>
/// </list>
/// <para><b>Why records are addressed by session key, not grouped under the user.</b> A cookie gives the
/// engine a session key and nothing else, so addressing records by key makes <see cref="GetAsync"/> one
/// <c>HGETALL</c>; grouping records under the user's hash tag would make every read two round trips
/// (a key-to-user pointer, then the record) on the hottest path of the library. The price is that a
/// record and its user's index live in different Cluster slots, and so do the old and new records of a
/// rotation: no single script can touch both.</para>
/// <para><b>What is atomic.</b> Every Lua script and command the store sends touches exactly one key,
/// so it runs the same on Cluster. Per record key, atomically: create (fails if the key exists, as
/// <c>SET NX</c>), update (check-and-set: only if the record exists for the same user, so a deleted
/// session is never resurrected), delete, the "claim" of a rotation, and sweep's "delete if expired".
/// Per index key: add-or-raise an entry and extend the index TTL.</para>
/// <para><b>How the index stays right without cross-slot transactions.</b> Index entries are hints: they
/// are written <i>before</i> the record (create, update, rotate) and removed <i>after</i> it (delete,
/// sweep), so a crash between the two steps can leave a hint without a record, never a record without a
/// hint. Readers re-validate every hint: <see cref="ListUserAsync"/> reads each record and keeps those
/// that exist and belong to the user; <see cref="DeleteUserAsync"/> deletes each record only if it
/// still belongs to the user, then removes exactly the hints it read (never the whole index, which could
/// drop a hint a concurrent create just added). An entry's score is raised, never lowered, so it is at
/// least its record's ExpiresAt, and sweep may trust "score &lt;= now" to find expired records. The expiry
/// index holds hints of the same kind, written beside the user index's and removed only by sweep.</para>
/// <para><b>Rotation.</b> The old record is claimed by deleting it (one <c>DEL</c>-like script: exactly
/// one of many racing rotations wins), then the winner inserts the successor. Between the two steps no
/// one can observe the difference from an atomic rotation: the old id already reads as absent, and
/// nobody else knows the new id yet. A crash between them loses the session (the user signs in again):
/// it fails closed, never leaving two live sessions.</para>
/// <para>Thread-safe; one instance per app is enough. Cancellation stops waiting for a reply, not the
/// command: a cancelled write may still have been applied.</para>
/// <example>
/// <code>
/// var redis = await ConnectionMultiplexer.ConnectAsync("localhost:6379,abortConnect=false");
/// var sessions = new SessionManager(new RedisSessionStore(redis), TimeProvider.System);
/// </code>
/// </example>
/// </remarks>
public sealed class RedisSessionStore : ISessionStore, IDisposable
{
    // Fields of the record hash. Short names: they are repeated in every record.
    private const string FUser = "u", FData = "d", FClient = "c", FCreated = "ca", FLastSeen = "ls", FExpires = "ea", FAbsolute = "aa";
    private static ReadOnlySpan<byte> FUser8 => "u"u8;
    private static ReadOnlySpan<byte> FData8 => "d"u8;
    private static ReadOnlySpan<byte> FClient8 => "c"u8;
    private static ReadOnlySpan<byte> FCreated8 => "ca"u8;
    private static ReadOnlySpan<byte> FLastSeen8 => "ls"u8;
    private static ReadOnlySpan<byte> FExpires8 => "ea"u8;
    private static ReadOnlySpan<byte> FAbsolute8 => "aa"u8;

    // KEYS[1] record. ARGV: ttl ms, user, ca, ls, ea, aa, has-data, data, has-client, client.
    // EXISTS then write in one script: SET NX semantics for a hash.
    private const string CreateScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'u', ARGV[2], 'ca', ARGV[3], 'ls', ARGV[4], 'ea', ARGV[5], 'aa', ARGV[6])
        if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'd', ARGV[8]) end
        if ARGV[9] == '1' then redis.call('HSET', KEYS[1], 'c', ARGV[10]) end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return 1
        """;

    // KEYS[1] record. ARGV: ttl ms, user, ls, ea, has-data, data, has-client, client.
    // Check-and-set: an absent record (HGET gives false) or another user's record is left alone, so an
    // update racing a delete cannot bring the session back. CreatedAt and AbsoluteExpiresAt never change.
    private const string UpdateScript = """
        if redis.call('HGET', KEYS[1], 'u') ~= ARGV[2] then return 0 end
        redis.call('HSET', KEYS[1], 'ls', ARGV[3], 'ea', ARGV[4])
        if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'd', ARGV[6]) else redis.call('HDEL', KEYS[1], 'd') end
        if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'c', ARGV[8]) else redis.call('HDEL', KEYS[1], 'c') end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return 1
        """;

    // KEYS[1] record. ARGV: ttl ms, user, last seen, expires at. Only the two times; data and client stay.
    private const string TouchScript = """
        if redis.call('HGET', KEYS[1], 'u') ~= ARGV[2] then return 0 end
        redis.call('HSET', KEYS[1], 'ls', ARGV[3], 'ea', ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return 1
        """;

    // KEYS[1] record. Deletes it and returns its user (to find the index), or false when absent.
    private const string DeleteScript = """
        local u = redis.call('HGET', KEYS[1], 'u')
        if u then redis.call('DEL', KEYS[1]) end
        return u
        """;

    // KEYS[1] record. ARGV[1] user. Deletes only a record of that user: 1 deleted, 0 not.
    private const string DeleteIfUserScript = """
        if redis.call('HGET', KEYS[1], 'u') ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[1])
        return 1
        """;

    // KEYS[1] record. ARGV[1] now (Unix ms). 1 deleted, 0 absent, -1 still live (keep its hint).
    private const string SweepOneScript = """
        local ea = redis.call('HGET', KEYS[1], 'ea')
        if not ea then return 0 end
        if tonumber(ea) > tonumber(ARGV[1]) then return -1 end
        redis.call('DEL', KEYS[1])
        return 1
        """;

    // KEYS[1] index. ARGV: member, score (ExpiresAt ms), ttl ms. GT: a score only rises, so it stays
    // >= its record's ExpiresAt; the index lives as long as its longest-lived record.
    private const string IndexAddScript = """
        redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
        if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
        return 1
        """;

    // A power of two: the shard is the session key's first byte masked. Sixteen sets keep each one short
    // enough for ZRANGEBYSCORE and spread the writes over Cluster slots.
    private const int ExpiryShards = 16;
    private const int SweepPageSize = 1000;
    private const int ExpiryMemberSize = SessionKey.Size + 32;

    private readonly IConnectionMultiplexer _redis;
    private readonly bool _ownsConnection;
    private readonly IDatabase _db;
    private readonly string _prefix;
    private readonly byte[] _recordKeyStart;   // UTF-8 of "{prefix}s:{", the bytes before a record key's digest
    private readonly TimeProvider _clock;
    private readonly TimeSpan _slack;

    /// <summary>Uses a connection the caller owns (and disposes).</summary>
    /// <exception cref="ArgumentException">The key prefix contains a brace, or the slack is negative.</exception>
    public RedisSessionStore(IConnectionMultiplexer redis, RedisStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        options ??= new RedisStoreOptions();
        options.Validate();
        _redis = redis;
        _db = redis.GetDatabase(options.Database);
        _prefix = options.KeyPrefix;
        _recordKeyStart = System.Text.Encoding.UTF8.GetBytes($"{_prefix}s:{{");
        _clock = options.TimeProvider;
        _slack = options.TtlSlack;
    }

    /// <summary>
    /// Connects with a StackExchange.Redis configuration string (e.g. <c>localhost:6379</c>) and owns the
    /// connection: <see cref="Dispose"/> closes it. <c>abortConnect=false</c> is applied unless the string
    /// says otherwise, so an app starts while Redis is down and the connection heals by itself.
    /// </summary>
    /// <exception cref="ArgumentException">An empty configuration, a brace in the key prefix, or a negative slack.</exception>
    public RedisSessionStore(string configuration, RedisStoreOptions? options = null)
        : this(Connect(configuration), options) => _ownsConnection = true;

    /// <inheritdoc/>
    public async ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var fields = await _db.HashGetAllAsync(RecordKey(key)).WaitAsync(ct).ConfigureAwait(false);
        return Read(key, fields);
    }

    /// <inheritdoc/>
    public async ValueTask CreateAsync(SessionRecord record, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        // Hint first: a crash after it leaves a hint without a record (harmless), never the reverse.
        await AddHintAsync(record, ct).ConfigureAwait(false);
        if (!await InsertAsync(record, ct).ConfigureAwait(false))
        {
            throw new SessionKeyCollisionException();
        }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        // Raise the hint before the record moves its ExpiresAt, so sweep never trims a live record's hint.
        // When the record turns out to be gone, the hint is garbage that sweep trims later.
        await AddHintAsync(record, ct).ConfigureAwait(false);
        var result = await _db.ScriptEvaluateAsync(UpdateScript, [RecordKey(record.Key)],
        [
            TtlMilliseconds(record.ExpiresAt), record.UserId, UnixMs(record.LastSeenAt), UnixMs(record.ExpiresAt),
            record.Data is null ? "0" : "1", record.Data ?? "", record.Client is null ? "0" : "1", record.Client ?? "",
        ]).WaitAsync(ct).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        await AddHintAsync(record, ct).ConfigureAwait(false);   // as in UpdateAsync: the hint moves first
        var result = await _db.ScriptEvaluateAsync(TouchScript, [RecordKey(record.Key)],
            [TtlMilliseconds(record.ExpiresAt), record.UserId, UnixMs(record.LastSeenAt), UnixMs(record.ExpiresAt)]).WaitAsync(ct).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Claim-then-insert across two slots (see the class remarks). If the successor's key already exists
    /// (a 2^-256 event) this throws <see cref="SessionKeyCollisionException"/> after the old record is gone.
    /// </remarks>
    public async ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        await AddHintAsync(next, ct).ConfigureAwait(false);
        var claimed = await _db.ScriptEvaluateAsync(DeleteScript, [RecordKey(oldKey)]).WaitAsync(ct).ConfigureAwait(false);
        if (claimed.IsNull)
        {
            // Lost the race (or the session was gone): no successor, and take back the hint just added.
            await RemoveHintsAsync(next.UserId, [Member(next.Key)], ct).ConfigureAwait(false);
            return false;
        }
        if (!await InsertAsync(next, ct).ConfigureAwait(false)) throw new SessionKeyCollisionException();
        await RemoveHintsAsync((string)claimed!, [Member(oldKey)], ct).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var user = await _db.ScriptEvaluateAsync(DeleteScript, [RecordKey(key)]).WaitAsync(ct).ConfigureAwait(false);
        if (user.IsNull) return false;
        // Record first, hint after: a failure here leaves only a dangling hint.
        await RemoveHintsAsync((string)user!, [Member(key)], ct).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Not one transaction (records live in many slots): each record is deleted atomically if it still
    /// belongs to the user. A session created while this runs may survive it.
    /// </remarks>
    public async ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var members = await _db.SortedSetRangeByRankAsync(IndexKey(userId)).WaitAsync(ct).ConfigureAwait(false);
        if (members.Length == 0) return 0;
        // Sent together: StackExchange.Redis pipelines them, so this is about one round trip.
        var deletes = members.Select(m => _db.ScriptEvaluateAsync(DeleteIfUserScript, [RecordKey(m)], [userId])).ToArray();
        var results = await Task.WhenAll(deletes).WaitAsync(ct).ConfigureAwait(false);
        // Only the hints read above: a hint a concurrent create just added must stay.
        await RemoveHintsAsync(userId, members, ct).ConfigureAwait(false);
        return results.Count(r => (long)r == 1);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var members = await _db.SortedSetRangeByRankAsync(IndexKey(userId)).WaitAsync(ct).ConfigureAwait(false);
        if (members.Length == 0) return [];
        var reads = members.Select(m => _db.HashGetAllAsync(RecordKey(m))).ToArray();
        var hashes = await Task.WhenAll(reads).WaitAsync(ct).ConfigureAwait(false);
        var list = new List<SessionRecord>(members.Length);
        for (var i = 0; i < members.Length; i++)
        {
            // Hints are re-validated: the record must exist and still name this user.
            if (Read(new SessionKey((byte[])members[i]!), hashes[i]) is { } r && r.UserId == userId) list.Add(r);
        }
        return list;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Redis drops records by TTL on its own; sweep covers what the TTL has not reached yet (the slack,
    /// or an engine clock ahead of Redis's) and keeps the indexes short. It reads the expiry index's hints
    /// whose score is at or before <paramref name="now"/> (a page per round trip), deletes those records whose
    /// ExpiresAt is at or before <paramref name="now"/> (re-checked in one script per record, pipelined), and
    /// trims the hints of records deleted or already gone from both the user index and the expiry index.
    /// Returns the number of records it deleted. Sessions written by a version without the expiry index
    /// are not in it: Redis's TTL removes them.
    /// </remarks>
    public async ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ct.ThrowIfCancellationRequested();
        var nowMs = now.ToUnixTimeMilliseconds();
        var deleted = 0;
        for (var shard = 0; shard < ExpiryShards && deleted < batchSize; shard++)
            deleted += await SweepShardAsync(ExpiryKey(shard), nowMs, batchSize - deleted, ct).ConfigureAwait(false);
        return deleted;
    }

    /// <summary>Closes the connection when this store opened it; otherwise does nothing.</summary>
    public void Dispose()
    {
        if (_ownsConnection) _redis.Dispose();
    }

    // ---- key layout (internal: the tests check TTLs and Cluster slots through these) ----

    internal RedisKey RecordKey(SessionKey key)
    {
        Span<byte> digest = stackalloc byte[SessionKey.Size];
        key.CopyTo(digest);
        return RecordKey(digest);
    }

    internal RedisKey RecordKey(RedisValue member) => RecordKey(((ReadOnlyMemory<byte>)member).Span);

    // "{prefix}s:{<base64url digest>}" written as the bytes sent, in one array: a lookup builds no strings.
    private RedisKey RecordKey(ReadOnlySpan<byte> digest)
    {
        // The hash tag is the handle: the slot depends on the session key alone.
        var key = new byte[_recordKeyStart.Length + Base64Url.GetEncodedLength(digest.Length) + 1];
        _recordKeyStart.CopyTo(key, 0);
        var written = Base64Url.EncodeToUtf8(digest, key.AsSpan(_recordKeyStart.Length));
        key[_recordKeyStart.Length + written] = (byte)'}';
        return key;
    }

    internal RedisKey IndexKey(string userId)
    {
        // A digest, not the user id: user ids are often e-mail addresses, and key names show up in
        // monitoring tools, slow logs and MONITOR output.
        return $"{_prefix}u:{{{Digest(userId)}}}";
    }

    internal RedisKey ExpiryKey(SessionKey key)
    {
        Span<byte> bytes = stackalloc byte[SessionKey.Size];
        key.CopyTo(bytes);
        return ExpiryKey(bytes[0] & (ExpiryShards - 1));
    }

    // Each shard its own hash tag: on Cluster the sixteen sets land on different slots.
    private RedisKey ExpiryKey(int shard) => $"{_prefix}x:{{{shard.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}";

    // ---- helpers ----

    private async Task<bool> InsertAsync(SessionRecord r, CancellationToken ct)
    {
        var result = await _db.ScriptEvaluateAsync(CreateScript, [RecordKey(r.Key)],
        [
            TtlMilliseconds(r.ExpiresAt), r.UserId, UnixMs(r.CreatedAt), UnixMs(r.LastSeenAt), UnixMs(r.ExpiresAt), UnixMs(r.AbsoluteExpiresAt),
            r.Data is null ? "0" : "1", r.Data ?? "", r.Client is null ? "0" : "1", r.Client ?? "",
        ]).WaitAsync(ct).ConfigureAwait(false);
        return (long)result == 1;
    }

    private Task AddHintAsync(SessionRecord r, CancellationToken ct)
    {
        // Both hints in one pipeline: one round trip. GT as in the user index: a score only rises.
        var user = _db.ScriptEvaluateAsync(IndexAddScript, [IndexKey(r.UserId)], [Member(r.Key), UnixMs(r.ExpiresAt), TtlMilliseconds(r.ExpiresAt)]);
        var expiry = _db.SortedSetAddAsync(ExpiryKey(r.Key), ExpiryMember(r), r.ExpiresAt.ToUnixTimeMilliseconds(), SortedSetWhen.GreaterThan);
        return Task.WhenAll(user, expiry).WaitAsync(ct);
    }

    // Session key then SHA-256 of the user id: enough to trim the user index even when the record is gone.
    private static RedisValue ExpiryMember(SessionRecord r)
    {
        var member = new byte[ExpiryMemberSize];
        r.Key.CopyTo(member);
        SHA256.HashData(Encoding.UTF8.GetBytes(r.UserId), member.AsSpan(SessionKey.Size));
        return member;
    }

    private Task RemoveHintsAsync(string userId, RedisValue[] members, CancellationToken ct) =>
        _db.SortedSetRemoveAsync(IndexKey(userId), members).WaitAsync(ct);

    private async Task<int> SweepShardAsync(RedisKey shard, long nowMs, int budget, CancellationToken ct)
    {
        var deleted = 0;
        var skip = 0L;
        while (deleted < budget)
        {
            // At most a page per round trip, whatever the batch: lookups share the connection and queue behind it.
            var take = Math.Min(budget - deleted, SweepPageSize);
            // Hints whose score <= now. A live record behind one (not expected: scores only rise) keeps its
            // hint and is skipped, so every pass either trims or moves on and the loop ends.
            var page = await _db.SortedSetRangeByScoreAsync(shard, double.NegativeInfinity, nowMs, skip: skip, take: take)
                .WaitAsync(ct).ConfigureAwait(false);
            if (page.Length == 0) break;
            var checks = new Task<RedisResult>[page.Length];
            for (var i = 0; i < page.Length; i++)
            {
                var member = (byte[])page[i]!;
                // Not one of ours (wrong length): nothing to check, only to trim.
                checks[i] = member.Length == ExpiryMemberSize
                    ? _db.ScriptEvaluateAsync(SweepOneScript, [RecordKey(member.AsMemory(0, SessionKey.Size).ToArray())], [nowMs])
                    : Task.FromResult(RedisResult.Create((RedisValue)0));
            }
            var results = await Task.WhenAll(checks).WaitAsync(ct).ConfigureAwait(false);
            var trim = new List<RedisValue>(page.Length);
            var userTrims = new List<Task>(page.Length);
            for (var i = 0; i < page.Length; i++)
            {
                var outcome = (long)results[i];
                if (outcome == 1) deleted++;
                if (outcome < 0) { skip++; continue; }
                trim.Add(page[i]);
                var member = (byte[])page[i]!;
                if (member.Length == ExpiryMemberSize)
                {
                    var userIndex = (RedisKey)$"{_prefix}u:{{{Base64Url.EncodeToString(member.AsSpan(SessionKey.Size))}}}";
                    userTrims.Add(_db.SortedSetRemoveAsync(userIndex, member.AsMemory(0, SessionKey.Size).ToArray()));
                }
            }
            // After the records: a failure here leaves only hints without records, which the next sweep trims.
            await Task.WhenAll(userTrims).WaitAsync(ct).ConfigureAwait(false);
            if (trim.Count > 0) await _db.SortedSetRemoveAsync(shard, [.. trim]).WaitAsync(ct).ConfigureAwait(false);
            if (page.Length < take) break;
        }
        return deleted;
    }

    private static SessionRecord? Read(SessionKey key, HashEntry[] fields)
    {
        if (fields.Length == 0) return null;
        string? user = null, data = null, client = null;
        long ca = 0, ls = 0, ea = 0, aa = 0;
        foreach (var f in fields)
        {
            // The field names compared as the bytes received: decoding each to a string cost 7 strings a lookup.
            var name = ((ReadOnlyMemory<byte>)f.Name).Span;
            if (name.SequenceEqual(FUser8)) user = f.Value;
            else if (name.SequenceEqual(FData8)) data = f.Value;
            else if (name.SequenceEqual(FClient8)) client = f.Value;
            else if (name.SequenceEqual(FCreated8)) ca = (long)f.Value;
            else if (name.SequenceEqual(FLastSeen8)) ls = (long)f.Value;
            else if (name.SequenceEqual(FExpires8)) ea = (long)f.Value;
            else if (name.SequenceEqual(FAbsolute8)) aa = (long)f.Value;
        }
        // A hash without a user is not one of ours (or was half-read): treat it as absent.
        if (user is null) return null;
        return new SessionRecord
        {
            Key = key, UserId = user, Data = data, Client = client,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(ca), LastSeenAt = DateTimeOffset.FromUnixTimeMilliseconds(ls),
            ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(ea), AbsoluteExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(aa),
        };
    }

    private long TtlMilliseconds(DateTimeOffset expiresAt) => RedisKeyspace.TtlMilliseconds(expiresAt, _clock, _slack);

    private static RedisValue Member(SessionKey key) => key.ToArray();

    private static ConnectionMultiplexer Connect(string configuration)
    {
        ArgumentException.ThrowIfNullOrEmpty(configuration);
        var options = ConfigurationOptions.Parse(configuration);
        if (!RedisConfigurationKeys.Sets(configuration, "abortConnect")) options.AbortOnConnectFail = false;
        return ConnectionMultiplexer.Connect(options);
    }
}
