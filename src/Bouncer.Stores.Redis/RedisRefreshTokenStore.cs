using System.Globalization;
using Bouncer.Refresh;
using StackExchange.Redis;
using static Bouncer.Stores.Redis.RedisKeyspace;

namespace Bouncer.Stores.Redis;

/// <summary>
/// Keeps refresh tokens in Redis (standalone, replicated or Cluster) through StackExchange.Redis.
/// </summary>
/// <remarks>
/// <para><b>Key layout.</b> The family is the unit of atomicity, so every key of one family carries the
/// family's hash tag and lives in one Cluster slot:</para>
/// <list type="bullet">
/// <item><c>{prefix}rt:r:{famdigest}:{tokenHash}</c>: one hash per token (fields <c>u</c> user, <c>f</c>
/// family, <c>g</c> generation, <c>ia</c> <c>ea</c> <c>fa</c> <c>ra</c> <c>at</c> instants in Unix ms, <c>s</c> scope,
/// <c>r</c> revoked; <c>at</c> is the family's auth time, absent from records written before it was kept, which
/// then read <see cref="RefreshRecord.AuthTime"/> as their issue time; <c>k</c> the DPoP key thumbprint of a bound
/// family, absent for an unbound one). TTL = min(ExpiresAt, FamilyExpiresAt) - now + slack.</item>
/// <item><c>{prefix}rt:i:{famdigest}</c>: the family index, a sorted set of its token hashes scored by each
/// record's min(ExpiresAt, FamilyExpiresAt). It outlives its records (TTL raised to the longest).</item>
/// <item><c>{prefix}rt:p:{tokenHash}</c>: the pointer, a string holding the family id. A client presents a
/// token and nothing else, so a lookup by hash alone needs it: the record's key depends on the family.</item>
/// <item><c>{prefix}rt:u:{userdigest}</c>: the user index, a sorted set of family ids scored by
/// FamilyExpiresAt.</item>
/// <item><c>{prefix}rt:x:{n}</c>, n in 0..15: the expiry index, sixteen sorted sets (each its own hash tag, so on
/// Cluster they spread over the slots) of <c>famdigest:tokenHash</c> members scored by the record's
/// min(ExpiresAt, FamilyExpiresAt); the family digest's first character picks the set. Sweep reads it by score,
/// so it never walks the keyspace; it has no TTL and sweep removes its entries, including those of records Redis
/// already dropped by TTL.</item>
/// </list>
/// <para>famdigest and userdigest are base64url SHA-256 of the family and user ids: a digest is never empty
/// and never holds a brace (either would break the hash tag), and no user id appears in a key name.</para>
/// <para><b>Why a pointer and not the family id in the token.</b> The token's format belongs to the
/// <see cref="RefreshTokenService"/>; a store only sees its hash. So <see cref="GetAsync"/> costs two round
/// trips (pointer, then record), which refresh (not a per-request path) can afford.</para>
/// <para><b>What is atomic.</b> Each Lua script declares all its keys and they share one slot. Atomic per
/// family: create a record, <see cref="RotateAsync"/> (check the current record is live, mark it rotated,
/// insert the successor), <see cref="RevokeFamilyAsync"/> (every record of the family, checked against the
/// index inside the script so a successor inserted meanwhile cannot escape), and sweep's delete-if-expired.
/// Pointers and the user index are hints in other slots: written <i>before</i> the records they lead to, and
/// re-validated on read (a pointer whose family holds no such record reads as absent). A pointer never
/// changes its family, so racing rotations of one token all write the same pointer and none removes it.</para>
/// <para>Thread-safe; one instance per app is enough. The caller owns the connection. Cancellation stops
/// waiting for a reply, not the command: a cancelled write may still have been applied.</para>
/// <example>
/// <code>
/// var redis = await ConnectionMultiplexer.ConnectAsync("localhost:6379,abortConnect=false");
/// var refresh = new RefreshTokenService(new RedisRefreshTokenStore(redis), channel, TimeProvider.System, options);
/// </code>
/// </example>
/// </remarks>
public sealed class RedisRefreshTokenStore : IRefreshTokenStore
{
    // KEYS[1] pointer. ARGV: family id, ttl ms. 1: the pointer now names this family (set, or already so,
    // TTL raised); 0: it names another family (a hash collision, or a stale pointer the caller re-checks).
    private const string PointerScript = """
        local f = redis.call('GET', KEYS[1])
        if f and f ~= ARGV[1] then return 0 end
        if not f then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
        if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 1
        """;

    // Shared tail of the create and rotate scripts: write the record KEYS[n] from ARGV starting at o,
    // set its TTL and add it to the family index KEYS[n+1].
    // ARGV[o..]: token hash, ttl ms, score, user, family, generation, ia, ea, fa, has-scope, scope, revoked, at, jkt ('' for none), client tag ('' for none).
    private const string InsertFunction = """
        local function insert(rec, idx, o)
          redis.call('HSET', rec, 'u', ARGV[o+3], 'f', ARGV[o+4], 'g', ARGV[o+5], 'ia', ARGV[o+6], 'ea', ARGV[o+7], 'fa', ARGV[o+8], 'at', ARGV[o+12])
          if ARGV[o+9] == '1' then redis.call('HSET', rec, 's', ARGV[o+10]) end
          if ARGV[o+11] == '1' then redis.call('HSET', rec, 'r', '1') end
          if ARGV[o+13] ~= '' then redis.call('HSET', rec, 'k', ARGV[o+13]) end
          if ARGV[o+14] ~= '' then redis.call('HSET', rec, 'c', ARGV[o+14]) end
          redis.call('PEXPIRE', rec, ARGV[o+1])
          redis.call('ZADD', idx, ARGV[o+2], ARGV[o])
          if redis.call('PTTL', idx) < tonumber(ARGV[o+1]) then redis.call('PEXPIRE', idx, ARGV[o+1]) end
        end
        """;

    // KEYS[1] record, KEYS[2] family index. ARGV: the record (see InsertFunction). 0 when the hash exists.
    private const string CreateScript = InsertFunction + "\n" + """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        insert(KEYS[1], KEYS[2], 1)
        return 1
        """;

    // KEYS[1] current record, KEYS[2] successor record, KEYS[3] family index. ARGV[1] rotatedAt ms, then the
    // successor (see InsertFunction). The whole check-and-set is one script, so of many racing rotations of
    // one token exactly one sees it unrotated; a revocation of the family is either before (refused) or after
    // (the successor is in the index, so it is revoked too).
    private const string RotateScript = InsertFunction + "\n" + """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        if redis.call('HEXISTS', KEYS[1], 'ra') == 1 then return 0 end
        if redis.call('HGET', KEYS[1], 'r') == '1' then return 0 end
        if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'ra', ARGV[1])
        insert(KEYS[2], KEYS[3], 2)
        return 1
        """;

    // KEYS[1] family index, KEYS[2..] the records of the hashes in ARGV (same order). -1 when the index holds
    // other hashes than those read before (a rotation slipped in): the caller reads again and retries, so no
    // record of the family escapes. Otherwise marks each existing, unrevoked record; returns how many.
    private const string RevokeFamilyScript = """
        local members = redis.call('ZRANGE', KEYS[1], 0, -1)
        if #members ~= #ARGV then return -1 end
        local expected = {}
        for _, h in ipairs(ARGV) do expected[h] = true end
        for _, m in ipairs(members) do if not expected[m] then return -1 end end
        local n = 0
        for i = 2, #KEYS do
          if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('HGET', KEYS[i], 'r') ~= '1' then
            redis.call('HSET', KEYS[i], 'r', '1')
            n = n + 1
          end
        end
        return n
        """;

    // KEYS[1] record, KEYS[2] family index. ARGV: token hash, now ms. 1 deleted, 0 already gone (index entry
    // trimmed), -1 still live (kept).
    private const string SweepOneScript = """
        local t = redis.call('HMGET', KEYS[1], 'ea', 'fa')
        if not t[1] then redis.call('ZREM', KEYS[2], ARGV[1]) return 0 end
        if math.min(tonumber(t[1]), tonumber(t[2])) > tonumber(ARGV[2]) then return -1 end
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        return 1
        """;

    // KEYS[1] user index. ARGV: family id, FamilyExpiresAt ms, ttl ms, forget-before ms. GT: a score only
    // rises. Families that ended long ago are trimmed here, so the index of a user who signs in daily for
    // years stays small.
    private const string UserIndexAddScript = """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
        redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
        if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
        return 1
        """;

    // A power of two: the set is the family digest's first character masked.
    private const int ExpiryShards = 16;
    private const int SweepPageSize = 1000;

    // Rotations of one family are seconds apart at most; each retry sees a newer index.
    private const int RevokeAttempts = 50;

    private readonly IDatabase _db;
    private readonly string _prefix;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _slack;

    /// <summary>Uses a connection the caller owns (and disposes).</summary>
    /// <exception cref="ArgumentException">The key prefix contains a brace, or the slack is negative.</exception>
    public RedisRefreshTokenStore(IConnectionMultiplexer redis, RedisStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        options ??= new RedisStoreOptions();
        options.Validate();
        _db = redis.GetDatabase(options.Database);
        _prefix = options.KeyPrefix;
        _clock = options.TimeProvider;
        _slack = options.TtlSlack;
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">A record with this token hash exists.</exception>
    public async ValueTask CreateAsync(RefreshRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        ct.ThrowIfCancellationRequested();
        var ttl = TtlMilliseconds(record);
        // Hints first: a crash after them leaves hints without a record (harmless), never the reverse.
        var forgetBefore = (_clock.GetUtcNow() - _slack).ToUnixTimeMilliseconds();
        // The user index and the expiry hint in one pipeline: one round trip.
        var userIndex = _db.ScriptEvaluateAsync(UserIndexAddScript, [UserIndexKey(record.UserId)],
            [record.FamilyId, UnixMs(record.FamilyExpiresAt), ttl, forgetBefore]);
        await Task.WhenAll(userIndex, AddExpiryHintAsync(record)).WaitAsync(ct).ConfigureAwait(false);
        if (!await ClaimPointerAsync(record.TokenHash, record.FamilyId, ttl, ct).ConfigureAwait(false))
        {
            // The pointer names another family: a duplicate when that family holds the record, otherwise a
            // stale pointer, taken over (it only ever led to nothing).
            if (await GetAsync(record.TokenHash, ct).ConfigureAwait(false) is not null) throw Duplicate();
            await _db.StringSetAsync(PointerKey(record.TokenHash), record.FamilyId, TimeSpan.FromMilliseconds(ttl)).WaitAsync(ct).ConfigureAwait(false);
        }
        var created = await _db.ScriptEvaluateAsync(CreateScript, [RecordKey(record.FamilyId, record.TokenHash), FamilyIndexKey(record.FamilyId)],
            RecordArgs(record, ttl)).WaitAsync(ct).ConfigureAwait(false);
        if ((long)created != 1) throw Duplicate();
    }

    /// <inheritdoc/>
    public async ValueTask<RefreshRecord?> GetAsync(string tokenHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        ct.ThrowIfCancellationRequested();
        var family = await _db.StringGetAsync(PointerKey(tokenHash)).WaitAsync(ct).ConfigureAwait(false);
        if (family.IsNull) return null;
        var fields = await _db.HashGetAllAsync(RecordKey((string)family!, tokenHash)).WaitAsync(ct).ConfigureAwait(false);
        return Read(tokenHash, fields);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The successor belongs to another family than the current token.</exception>
    public async ValueTask<bool> RotateAsync(string currentHash, DateTimeOffset rotatedAt, RefreshRecord successor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(currentHash);
        ArgumentNullException.ThrowIfNull(successor);
        ct.ThrowIfCancellationRequested();
        var family = await _db.StringGetAsync(PointerKey(currentHash)).WaitAsync(ct).ConfigureAwait(false);
        if (family.IsNull) return false;
        // One slot per family is what makes the rotation one script; a successor elsewhere cannot be atomic.
        if ((string)family! != successor.FamilyId)
            throw new ArgumentException("A successor must belong to the family of the token it replaces.", nameof(successor));
        var ttl = TtlMilliseconds(successor);
        // The successor's pointer goes first, so a racing loser that reads the successor right after the
        // winner's script finds it. Losers leave it: it names the same family and leads to the winner's record.
        // The successor's expiry hint rides in the same pipeline: a loser's hint leads to nothing and sweep trims it.
        var hint = AddExpiryHintAsync(successor);
        var claimed = await ClaimPointerAsync(successor.TokenHash, successor.FamilyId, ttl, ct).ConfigureAwait(false);
        await hint.WaitAsync(ct).ConfigureAwait(false);
        if (!claimed) return false;
        var args = new RedisValue[1 + RecordArgCount];
        args[0] = UnixMs(rotatedAt);
        RecordArgs(successor, ttl).CopyTo(args, 1);
        var rotated = await _db.ScriptEvaluateAsync(RotateScript,
            [RecordKey(successor.FamilyId, currentHash), RecordKey(successor.FamilyId, successor.TokenHash), FamilyIndexKey(successor.FamilyId)],
            args).WaitAsync(ct).ConfigureAwait(false);
        return (long)rotated == 1;
    }

    /// <inheritdoc/>
    /// <remarks>Atomic for the family: a rotation racing it either fails or yields a revoked successor.</remarks>
    public async ValueTask<int> RevokeFamilyAsync(string familyId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(familyId);
        ct.ThrowIfCancellationRequested();
        var index = FamilyIndexKey(familyId);
        for (var attempt = 0; attempt < RevokeAttempts; attempt++)
        {
            var members = await _db.SortedSetRangeByRankAsync(index).WaitAsync(ct).ConfigureAwait(false);
            var keys = new RedisKey[members.Length + 1];
            keys[0] = index;
            for (var i = 0; i < members.Length; i++) keys[i + 1] = RecordKey(familyId, (string)members[i]!);
            var changed = (long)await _db.ScriptEvaluateAsync(RevokeFamilyScript, keys, members).WaitAsync(ct).ConfigureAwait(false);
            if (changed >= 0) return (int)changed;
        }
        throw new InvalidOperationException($"The family kept changing during {RevokeAttempts} revocation attempts.");
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One atomic revocation per family (families live in different slots). A family created while this
    /// runs may survive it: the engine's user cut-off revocation covers its access tokens.
    /// </remarks>
    public async ValueTask<IReadOnlyList<string>> RevokeUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ct.ThrowIfCancellationRequested();
        var families = await _db.SortedSetRangeByRankAsync(UserIndexKey(userId)).WaitAsync(ct).ConfigureAwait(false);
        var revoked = new List<string>(families.Length);
        foreach (var f in families)
        {
            var family = (string)f!;
            // A family counts when it had a live (unrevoked) token, as the interface says.
            if (await RevokeFamilyAsync(family, ct).ConfigureAwait(false) > 0) revoked.Add(family);
        }
        return revoked;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Redis drops records by TTL on its own; sweep covers the slack (or an engine clock ahead of Redis's). It reads
    /// the expiry index's entries scored at or before <paramref name="now"/> (a page per round trip), deletes each
    /// record whose limits have passed (re-checked in one script with its family index entry, pipelined) and trims
    /// the entries of records deleted or already gone. Pointers of swept records are left to their TTL: they lead
    /// to nothing and read as absent. Records written by a version without the expiry index are not in it: Redis's
    /// TTL removes them.
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

    // ---- key layout (internal: the tests check TTLs and Cluster slots through these) ----

    internal RedisKey PointerKey(string tokenHash) => $"{_prefix}rt:p:{{{tokenHash}}}";

    internal RedisKey RecordKey(string familyId, string tokenHash) => $"{_prefix}rt:r:{{{Digest(familyId)}}}:{tokenHash}";

    internal RedisKey FamilyIndexKey(string familyId) => $"{_prefix}rt:i:{{{Digest(familyId)}}}";

    internal RedisKey UserIndexKey(string userId) => $"{_prefix}rt:u:{{{Digest(userId)}}}";

    internal RedisKey ExpiryKey(string familyId) => ExpiryKey(Digest(familyId)[0] & (ExpiryShards - 1));

    // Each shard its own hash tag: on Cluster the sixteen sets land on different slots.
    private RedisKey ExpiryKey(int shard) => $"{_prefix}rt:x:{{{shard.ToString(CultureInfo.InvariantCulture)}}}";

    // ---- helpers ----

    private const int RecordArgCount = 15;

    private async Task<bool> ClaimPointerAsync(string tokenHash, string familyId, long ttl, CancellationToken ct)
    {
        var result = await _db.ScriptEvaluateAsync(PointerScript, [PointerKey(tokenHash)], [familyId, ttl]).WaitAsync(ct).ConfigureAwait(false);
        return (long)result == 1;
    }

    // Scored by the earlier limit, fixed at insert; a hint is written before its record and removed after it.
    private Task AddExpiryHintAsync(RefreshRecord r)
    {
        var family = Digest(r.FamilyId);
        return _db.SortedSetAddAsync(ExpiryKey(family[0] & (ExpiryShards - 1)), $"{family}:{r.TokenHash}",
            Min(r.ExpiresAt, r.FamilyExpiresAt).ToUnixTimeMilliseconds());
    }

    private async Task<int> SweepShardAsync(RedisKey shard, long nowMs, int budget, CancellationToken ct)
    {
        var deleted = 0;
        var skip = 0L;
        while (deleted < budget)
        {
            // At most a page per round trip, whatever the batch: lookups share the connection and queue behind it.
            var take = Math.Min(budget - deleted, SweepPageSize);
            // A live record behind a due hint (not expected: a record's limits never move) keeps its hint and is
            // skipped, so every pass either trims or moves on and the loop ends.
            var page = await _db.SortedSetRangeByScoreAsync(shard, double.NegativeInfinity, nowMs, skip: skip, take: take)
                .WaitAsync(ct).ConfigureAwait(false);
            if (page.Length == 0) break;
            var checks = new Task<RedisResult>[page.Length];
            for (var i = 0; i < page.Length; i++)
            {
                var member = (string)page[i]!;
                var colon = member.IndexOf(':');
                // Not one of ours (no family part): nothing to check, only to trim.
                checks[i] = colon > 0
                    ? _db.ScriptEvaluateAsync(SweepOneScript,
                        [$"{_prefix}rt:r:{{{member[..colon]}}}:{member[(colon + 1)..]}", $"{_prefix}rt:i:{{{member[..colon]}}}"],
                        [member[(colon + 1)..], nowMs])
                    : Task.FromResult(RedisResult.Create((RedisValue)0));
            }
            var results = await Task.WhenAll(checks).WaitAsync(ct).ConfigureAwait(false);
            var trim = new List<RedisValue>(page.Length);
            for (var i = 0; i < page.Length; i++)
            {
                var outcome = (long)results[i];
                if (outcome == 1) deleted++;
                if (outcome < 0) { skip++; continue; }
                trim.Add(page[i]);
            }
            // After the records: a failure here leaves only hints without records, which the next sweep trims.
            if (trim.Count > 0) await _db.SortedSetRemoveAsync(shard, [.. trim]).WaitAsync(ct).ConfigureAwait(false);
            if (page.Length < take) break;
        }
        return deleted;
    }

    private static RedisValue[] RecordArgs(RefreshRecord r, long ttl) =>
    [
        r.TokenHash, ttl, UnixMs(Min(r.ExpiresAt, r.FamilyExpiresAt)), r.UserId, r.FamilyId, r.Generation.ToString(CultureInfo.InvariantCulture),
        UnixMs(r.IssuedAt), UnixMs(r.ExpiresAt), UnixMs(r.FamilyExpiresAt), r.Scope is null ? "0" : "1", r.Scope ?? "", r.Revoked ? "1" : "0",
        UnixMs(r.AuthTime), r.DpopJkt ?? "", r.Client ?? "",
    ];

    private static RefreshRecord? Read(string tokenHash, HashEntry[] fields)
    {
        if (fields.Length == 0) return null;
        string? user = null, family = null, scope = null, jkt = null, client = null;
        long ia = 0, ea = 0, fa = 0;
        long? ra = null, at = null;
        var generation = 0;
        var revoked = false;
        foreach (var f in fields)
        {
            switch ((string)f.Name!)
            {
                case "u": user = f.Value; break;
                case "f": family = f.Value; break;
                case "s": scope = f.Value; break;
                case "g": generation = (int)f.Value; break;
                case "ia": ia = (long)f.Value; break;
                case "ea": ea = (long)f.Value; break;
                case "fa": fa = (long)f.Value; break;
                case "ra": ra = (long)f.Value; break;
                case "at": at = (long)f.Value; break;
                case "k": jkt = f.Value; break;
                case "c": client = f.Value; break;
                case "r": revoked = f.Value == "1"; break;
            }
        }
        // A hash without user or family is not one of ours: treat it as absent.
        if (user is null || family is null) return null;
        var record = new RefreshRecord
        {
            TokenHash = tokenHash, FamilyId = family, UserId = user, Generation = generation, Scope = scope, Revoked = revoked,
            IssuedAt = DateTimeOffset.FromUnixTimeMilliseconds(ia), ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(ea),
            FamilyExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(fa),
            RotatedAt = ra is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null,
            DpopJkt = jkt,
            Client = client,
        };
        // No at: a record written before the field existed; AuthTime then reads as IssuedAt.
        return at is { } a ? record with { AuthTime = DateTimeOffset.FromUnixTimeMilliseconds(a) } : record;
    }

    private long TtlMilliseconds(RefreshRecord r) => RedisKeyspace.TtlMilliseconds(Min(r.ExpiresAt, r.FamilyExpiresAt), _clock, _slack);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static InvalidOperationException Duplicate() => new("A refresh token with this hash exists.");
}
