using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Stores.Tests;

/// <summary>The key lifecycle on one SQLite file shared by both instances (one machine).</summary>
public sealed class SqliteKeyLifecycleTests : KeyLifecycleContract
{
    private readonly SqliteTempFolder _folder = new();
    private string? _path;

    protected override void UseStore(BouncerBuilder bouncer) => bouncer.UseSqlite(_path ??= _folder.NewPath());

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _folder.Dispose();
    }
}

/// <summary>HS256 keys rotate and are revoked the same way (never published, shared through the store).</summary>
public sealed class SqliteHs256KeyLifecycleTests : KeyLifecycleContract
{
    private readonly SqliteTempFolder _folder = new();
    private string? _path;

    protected override JwsAlgorithm SigningAlgorithm => JwsAlgorithm.HS256;

    protected override void UseStore(BouncerBuilder bouncer) => bouncer.UseSqlite(_path ??= _folder.NewPath());

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _folder.Dispose();
    }
}

/// <summary>The key lifecycle on a real redis-server, under a key prefix of its own.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisKeyLifecycleTests(RedisServer server) : KeyLifecycleContract
{
    private readonly string _prefix = $"bk:{Guid.NewGuid():N}:";

    protected override void UseStore(BouncerBuilder bouncer) => bouncer.UseRedis(server.Configuration, _prefix);
}

/// <summary>The key lifecycle on a real PostgreSQL, in a schema of its own.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresKeyLifecycleTests(PostgresServer server) : KeyLifecycleContract
{
    private readonly string _schema = $"bk_{Guid.NewGuid():N}"[..30];

    protected override void UseStore(BouncerBuilder bouncer) => bouncer.UsePostgres(server.ConnectionString, _schema);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await using var command = server.DataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE");
        await command.ExecuteNonQueryAsync();
    }
}
