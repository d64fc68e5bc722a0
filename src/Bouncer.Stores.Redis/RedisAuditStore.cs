using System.Buffers;
using System.Text;
using System.Text.Json;
using Bouncer.Diagnostics;
using StackExchange.Redis;
using static Bouncer.Stores.Redis.RedisKeyspace;

namespace Bouncer.Stores.Redis;

/// <summary>Keeps the audit trail in Redis: sorted sets of events scored by their instant.</summary>
/// <remarks>
/// <para><b>Key layout.</b> <c>{prefix}audit:{all}</c>, a sorted set of every event; <c>{prefix}audit:s:{userdigest}</c>,
/// one per subject holding that user's events (userdigest is the base64url SHA-256 of the username, as in
/// <see cref="RedisUserStore"/>); <c>{prefix}audit:{all}:seq</c>, a counter. The score is the event's instant in Unix
/// ms; the member is the event as compact JSON (<c>id</c>, <c>k</c> kind, <c>at</c>, <c>a</c> actor, <c>s</c> subject,
/// <c>t</c> target, <c>r</c> reason, <c>ip</c>, <c>ua</c>; absent values left out), led by a zero-padded id from the
/// counter, so members are unique and events of the same millisecond sort by insertion. No TTL: the engine decides
/// the retention and calls <see cref="SweepAsync"/>.</para>
/// <para><b>What is atomic.</b> The counter and the global set share a hash tag, so one script numbers and adds an
/// event; the subject's set lives in another slot (Redis Cluster runs a script on one slot only) and gets the same
/// member next. A process dying in between leaves the event out of the subject's trail only. A sweep removes old
/// members from their subjects' sets first, then from the global set, so an interrupted sweep is finished by the
/// next.</para>
/// <para>Thread-safe. The caller owns the connection. Use <c>maxmemory-policy noeviction</c>.</para>
/// </remarks>
public sealed class RedisAuditStore : IAuditStore
{
    // KEYS[1] global set, KEYS[2] counter (one slot). ARGV: score, the member's JSON after the id. Returns the member.
    private const string AppendScript = """
        local id = redis.call('INCR', KEYS[2])
        local member = '{"id":"' .. string.format('%019d', id) .. '",' .. ARGV[2]
        redis.call('ZADD', KEYS[1], ARGV[1], member)
        return member
        """;

    private readonly IDatabase _db;
    private readonly string _prefix;

    /// <summary>Uses a connection the caller owns (and disposes). Only KeyPrefix and Database are read.</summary>
    /// <exception cref="ArgumentException">The key prefix contains a brace.</exception>
    public RedisAuditStore(IConnectionMultiplexer redis, RedisStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        options ??= new RedisStoreOptions();
        options.Validate();
        _db = redis.GetDatabase(options.Database);
        _prefix = options.KeyPrefix;
    }

    /// <inheritdoc/>
    public async ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        ct.ThrowIfCancellationRequested();
        var score = auditEvent.At.ToUnixTimeMilliseconds();
        var member = (RedisValue)await _db.ScriptEvaluateAsync(AppendScript, [GlobalKey, SequenceKey], [score, JsonTail(auditEvent)])
            .WaitAsync(ct).ConfigureAwait(false);
        if (auditEvent.Subject is { } subject)
            await _db.SortedSetAddAsync(SubjectKey(subject), member, score).WaitAsync(ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<AuditEvent>> ListAsync(string? subject, int limit, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 0);
        if (limit == 0) return [];
        ct.ThrowIfCancellationRequested();
        var key = subject is null ? GlobalKey : SubjectKey(subject);
        var members = await _db.SortedSetRangeByRankAsync(key, 0, limit - 1, Order.Descending).WaitAsync(ct).ConfigureAwait(false);
        return members.Select(m => Parse(m).Event).ToList();
    }

    /// <inheritdoc/>
    public async ValueTask<int> SweepAsync(DateTimeOffset before, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ct.ThrowIfCancellationRequested();
        var old = await _db.SortedSetRangeByScoreAsync(GlobalKey, double.NegativeInfinity, before.ToUnixTimeMilliseconds(), Exclude.Stop,
            Order.Ascending, 0, batchSize).WaitAsync(ct).ConfigureAwait(false);
        if (old.Length == 0) return 0;
        var bySubject = old.Select(m => (Member: m, Parse(m).Event.Subject)).Where(x => x.Subject is not null).GroupBy(x => x.Subject!, StringComparer.Ordinal);
        await Task.WhenAll(bySubject.Select(g => _db.SortedSetRemoveAsync(SubjectKey(g.Key), g.Select(x => x.Member).ToArray()))).WaitAsync(ct).ConfigureAwait(false);
        // What this call removed: a concurrent sweep of the same members counts each only once between them.
        return (int)await _db.SortedSetRemoveAsync(GlobalKey, old).WaitAsync(ct).ConfigureAwait(false);
    }

    internal RedisKey GlobalKey => $"{_prefix}audit:{{all}}";

    internal RedisKey SequenceKey => $"{_prefix}audit:{{all}}:seq";

    // A digest, not the username: usernames are often e-mail addresses, and key names show up in logs.
    internal RedisKey SubjectKey(string subject) => $"{_prefix}audit:s:{{{Digest(subject)}}}";

    // The member's JSON after '{"id":"...",' (the script puts the id in front).
    private static string JsonTail(AuditEvent e)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("k", (int)e.Kind);
            w.WriteNumber("at", e.At.ToUnixTimeMilliseconds());
            if (e.Actor is not null) w.WriteString("a", e.Actor);
            if (e.Subject is not null) w.WriteString("s", e.Subject);
            if (e.Target is not null) w.WriteString("t", e.Target);
            w.WriteString("r", e.Reason ?? "");
            if (e.ClientAddress is not null) w.WriteString("ip", e.ClientAddress);
            if (e.UserAgent is not null) w.WriteString("ua", e.UserAgent);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan[1..]);   // without the opening brace
    }

    internal static (string Id, AuditEvent Event) Parse(RedisValue member)
    {
        using var doc = JsonDocument.Parse((byte[])member!);
        var root = doc.RootElement;
        string? Str(string name) => root.TryGetProperty(name, out var v) ? v.GetString() : null;
        return (Str("id")!, new AuditEvent(
            (AuditEventKind)root.GetProperty("k").GetInt32(),
            DateTimeOffset.FromUnixTimeMilliseconds(root.GetProperty("at").GetInt64()),
            Str("a"), Str("s"), Str("t"), Str("r") ?? "", Str("ip"), Str("ua")));
    }
}
