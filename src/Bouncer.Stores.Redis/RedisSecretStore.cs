using StackExchange.Redis;
using Bouncer.Users;

namespace Bouncer.Stores.Redis;

/// <summary>Keeps named deployment values (signing keys, derivation key, issuer) in Redis string keys.</summary>
/// <remarks>
/// <para><b>Key layout.</b> <c>{prefix}secret:{name}</c>, a string, no TTL. Values can be secrets: anyone
/// who can read the database can read them, so protect it (ACLs, TLS) as you would a key vault.</para>
/// <para><b>What is atomic.</b> <see cref="GetOrAddAsync"/> is one script (read, or write when absent):
/// of racing callers exactly one value is stored and every caller gets it back.</para>
/// <para>Thread-safe. The caller owns the connection. Use <c>maxmemory-policy noeviction</c> and
/// persistence: a lost signing-key set invalidates every token issued.</para>
/// </remarks>
public sealed class RedisSecretStore : ISecretStore
{
    // KEYS[1] value. ARGV[1] candidate. Returns the stored value: the existing one, or the candidate just set.
    // One script rather than SET NX then GET: one round trip, and the value returned is the one stored at
    // that instant (a SetAsync landing between the two commands would otherwise be returned instead).
    private const string GetOrAddScript = """
        local v = redis.call('GET', KEYS[1])
        if v then return v end
        redis.call('SET', KEYS[1], ARGV[1])
        return ARGV[1]
        """;

    // KEYS[1] value. ARGV: expected, new. 1 replaced, 0 not (changed meanwhile, or never set).
    private const string ReplaceScript = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[1], ARGV[2])
        return 1
        """;

    private readonly IDatabase _db;
    private readonly string _prefix;

    /// <summary>Uses a connection the caller owns (and disposes). Only KeyPrefix and Database are read.</summary>
    /// <exception cref="ArgumentException">The key prefix contains a brace.</exception>
    public RedisSecretStore(IConnectionMultiplexer redis, RedisStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        options ??= new RedisStoreOptions();
        options.Validate();
        _db = redis.GetDatabase(options.Database);
        _prefix = options.KeyPrefix;
    }

    /// <inheritdoc/>
    public async ValueTask<string?> GetAsync(string name, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ct.ThrowIfCancellationRequested();
        return await _db.StringGetAsync(SecretKey(name)).WaitAsync(ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<string> GetOrAddAsync(string name, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        ct.ThrowIfCancellationRequested();
        var stored = await _db.ScriptEvaluateAsync(GetOrAddScript, [SecretKey(name)], [value]).WaitAsync(ct).ConfigureAwait(false);
        return (string)stored!;
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string name, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        ct.ThrowIfCancellationRequested();
        await _db.StringSetAsync(SecretKey(name), value).WaitAsync(ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ReplaceAsync(string name, string expected, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(value);
        ct.ThrowIfCancellationRequested();
        var replaced = await _db.ScriptEvaluateAsync(ReplaceScript, [SecretKey(name)], [expected, value]).WaitAsync(ct).ConfigureAwait(false);
        return (long)replaced == 1;
    }

    // One key per value and single-key commands only, so the name may hold anything, braces included.
    internal RedisKey SecretKey(string name) => $"{_prefix}secret:{{{name}}}";
}
