using Bouncer.Revocation;
using Npgsql;
using static Bouncer.Stores.Postgres.PostgresStatements;

namespace Bouncer.Stores.Postgres;

/// <summary>
/// An <see cref="IRevocationChannel"/> over PostgreSQL: the durable log is the table
/// <c>bouncer_revocations</c> (cursor = an identity column), the push is <c>LISTEN</c>/<c>NOTIFY</c> on
/// <see cref="NotifyChannel"/> with the new cursor as payload.
/// </summary>
/// <remarks>
/// <para>Ordering: cursors become visible in cursor order (see <see cref="PublishAsync"/>), so a reader that
/// has seen cursor N has seen every retained entry below N, and a replay from a cursor never skips one.</para>
/// <para>Push: each subscription holds one connection from the listen data source (the data source itself unless
/// a separate one was given, as behind a transaction pooler) for its lifetime, running
/// <c>LISTEN</c> and waiting for notifications. When that connection breaks, the subscriber hears
/// <see cref="IRevocationSubscriber.OnDisconnected"/>, and the subscription reconnects with backoff (100 ms
/// doubling to 2 s) until disposed, then calls <see cref="IRevocationSubscriber.OnConnected"/> so the
/// subscriber replays what it missed. The connection's <c>application_name</c> is
/// <see cref="ListenerApplicationName"/>, so operators can find it in <c>pg_stat_activity</c>.</para>
/// <para>The data source must not be multiplexing (a multiplexed connection cannot LISTEN) and must stay
/// undisposed while subscriptions run. Thread-safe.</para>
/// </remarks>
public sealed class PostgresRevocationChannel : IRevocationChannel
{
    /// <summary>The table's name inside <see cref="PostgresStoreOptions.Schema"/>.</summary>
    public const string TableName = "bouncer_revocations";

    private const string Columns = "cursor, kind, subject, at, expires_at";

    // First key of the two-int advisory lock that orders publishers ("Bouncer revocations"); the second
    // is a hash of the table's name, so channels in different schemas do not wait for each other.
    // Two-int keys never collide with the one-bigint key EnsureSchemaAsync uses.
    private const int PublishLockClass = 0x42_52_45_56;
    private const int PushPageSize = 1000;
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);
    // An idle LISTEN connection is pinged this often: a peer that vanished without a FIN (a dead host,
    // a dropped NAT entry) would otherwise leave WaitAsync waiting forever while pushes are lost.
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(30);

    private readonly NpgsqlDataSource _dataSource;
    // Where LISTEN connections come from: the same data source, or a direct one when the other goes through a
    // transaction pooler (LISTEN is session state, which such a pooler does not keep).
    private readonly NpgsqlDataSource _listenDataSource;
    private readonly bool _prepare;
    private readonly PostgresStoreOptions _options;
    private readonly string _lock, _publish, _readAfter, _maxCursor, _prune, _listen;

    /// <summary>A channel over <paramref name="dataSource"/>, which the caller keeps owning (and disposes).</summary>
    /// <exception cref="ArgumentException">The schema name in <paramref name="options"/> is not a plain identifier.</exception>
    public PostgresRevocationChannel(NpgsqlDataSource dataSource, PostgresStoreOptions? options = null)
        : this(dataSource, dataSource, options ?? new PostgresStoreOptions())
    {
    }

    /// <summary>
    /// A channel that publishes and reads the log over <paramref name="dataSource"/> (e.g. through PgBouncer in
    /// transaction pooling, with <see cref="PostgresStoreOptions.PreparedStatements"/> false) and holds its LISTEN
    /// connections on <paramref name="listenDataSource"/>, which must reach PostgreSQL directly or through a pooler in
    /// session pooling: a notification is delivered to the server session that listened, which a transaction pooler
    /// hands to other clients between transactions. The caller keeps owning (and disposes) both.
    /// </summary>
    /// <exception cref="ArgumentException">The schema name in <paramref name="options"/> is not a plain identifier.</exception>
    public PostgresRevocationChannel(NpgsqlDataSource dataSource, NpgsqlDataSource listenDataSource, PostgresStoreOptions options)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _listenDataSource = listenDataSource ?? throw new ArgumentNullException(nameof(listenDataSource));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _options.Validate();
        _prepare = _options.PreparedStatements && CanPrepare(dataSource);
        var table = $"\"{_options.Schema}\".\"{TableName}\"";
        // One channel per schema, so deployments (and tests) sharing a database do not wake each other.
        // At most 12 + 50 chars: within PostgreSQL's 63-byte limit on channel names.
        NotifyChannel = "bouncer_rev." + _options.Schema;
        // PostgreSQL keeps the first 63 bytes of an application_name (all ASCII here): cut it the same way
        // so the property matches what pg_stat_activity shows.
        var appName = "bouncer-listen " + _options.Schema;
        ListenerApplicationName = appName.Length <= 63 ? appName : appName[..63];

        // The schema and channel names are validated identifiers, so they can sit in the SQL text as literals.
        _lock = $"SELECT pg_advisory_xact_lock({PublishLockClass}, hashtext('{table}'))";
        // pg_notify in the same statement as the insert: the notification is queued in the transaction and
        // delivered only when it commits, so a listener is never woken for an entry it cannot yet read,
        // and a rolled-back insert notifies nobody.
        _publish = $"""
            WITH ins AS (INSERT INTO {table} (kind, subject, at, expires_at) VALUES ($1, $2, $3, $4) RETURNING cursor)
            SELECT ins.cursor FROM ins CROSS JOIN LATERAL pg_notify('{NotifyChannel}', ins.cursor::text)
            """;
        _readAfter = $"SELECT {Columns} FROM {table} WHERE cursor > $1 ORDER BY cursor LIMIT $2";
        _maxCursor = $"SELECT coalesce(max(cursor), 0) FROM {table}";
        _prune = $"DELETE FROM {table} WHERE expires_at <= $1";
        _listen = $"LISTEN \"{NotifyChannel}\"";
    }

    /// <summary>The schema this channel uses.</summary>
    public PostgresStoreOptions Options => _options;

    /// <summary>The NOTIFY channel name: <c>bouncer_rev.&lt;schema&gt;</c>.</summary>
    public string NotifyChannel { get; }

    /// <summary>
    /// The <c>application_name</c> of every subscription's LISTEN connection: <c>bouncer-listen &lt;schema&gt;</c>,
    /// cut to PostgreSQL's 63 bytes.
    /// </summary>
    public string ListenerApplicationName { get; }

    /// <summary>
    /// Creates the schema (when missing), the log table and its expiry index when missing; safe to call
    /// from many processes at once.
    /// </summary>
    public Task EnsureSchemaAsync(CancellationToken ct = default) =>
        PostgresStatements.EnsureSchemaAsync(_dataSource, TableSchema(_options), ct);

    /// <summary>The CREATE TABLE and CREATE INDEX statements for <paramref name="options"/> (idempotent).</summary>
    public static string SchemaSql(PostgresStoreOptions options) => TableSchema(options).ToSql();

    private static PostgresTableSchema TableSchema(PostgresStoreOptions options)
    {
        options.Validate();
        var table = $"\"{options.Schema}\".\"{TableName}\"";
        // GENERATED ALWAYS: no client can pick a cursor, so only the ordered publish path creates them.
        return new(options.Schema, TableName, $"""
            CREATE TABLE IF NOT EXISTS {table} (
                cursor bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                kind smallint NOT NULL,
                subject text NOT NULL,
                at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL
            );
            """,
            [],
            [($"{TableName}_expires_at_idx", $"CREATE INDEX IF NOT EXISTS \"{TableName}_expires_at_idx\" ON {table} (expires_at);")]);
    }

    /// <summary>
    /// Appends the revocation to the log and notifies listeners when it commits; returns its cursor.
    /// Not retried on a connection fault (it may have committed): the caller's retry may log it twice,
    /// which is harmless, since applying a revocation is idempotent.
    /// </summary>
    /// <remarks>
    /// Why a lock: an identity column hands out numbers when rows are inserted, not when they commit. Two
    /// concurrent publishers can take 10 and 11, and 11 can commit first. A listener replaying at that
    /// moment reads 11, sets its cursor to 11, and from then on asks for <c>cursor &gt; 11</c>: when 10
    /// commits it is skipped forever. So each publish runs as one batch (one implicit transaction, one
    /// round trip): first <c>pg_advisory_xact_lock</c>, then the insert. The lock is released only after
    /// the commit is visible, and the next publisher draws its number only once it holds the lock, so
    /// numbers are drawn and committed in the same order. The price is that publishes to one log are
    /// serialised for the length of one insert and commit; revocations are rare enough for that.
    /// </remarks>
    public async ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(revocation.Subject);
        try
        {
            await using var conn = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            await using var batch = new NpgsqlBatch(conn);
            batch.BatchCommands.Add(new NpgsqlBatchCommand(_lock));
            var insert = new NpgsqlBatchCommand(_publish);
            insert.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)revocation.Kind });
            insert.Parameters.Add(Text(revocation.Subject));
            insert.Parameters.Add(Instant(revocation.At));
            insert.Parameters.Add(Instant(revocation.ExpiresAt));
            batch.BatchCommands.Add(insert);
            if (_prepare) await batch.PrepareAsync(ct).ConfigureAwait(false);
            await using var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
            // The lock's result set (one void row) comes first; the cursor is in the second.
            await reader.NextResultAsync(ct).ConfigureAwait(false);
            if (!await reader.ReadAsync(ct).ConfigureAwait(false)) throw new InvalidOperationException("The insert returned no cursor.");
            return reader.GetInt64(0);
        }
        catch (NpgsqlException e) when (IsConnectionFault(e))
        {
            _dataSource.Clear();
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<RevocationEntry>> ReadAfterAsync(long cursor, int max, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        return await QueryAsync(_dataSource, _prepare, _readAfter, [Long(cursor), Int(max)], ReadEntry, retry: true, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a subscription on its own connection. Returns once the first connection attempt has finished:
    /// when it succeeded, <see cref="IRevocationSubscriber.OnConnected"/> has been called and every entry
    /// committed from then on is pushed; when it failed, the subscription keeps retrying in the background.
    /// </summary>
    /// <exception cref="NotSupportedException">The data source is multiplexing.</exception>
    public async ValueTask<IAsyncDisposable> SubscribeAsync(IRevocationSubscriber subscriber, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        if (!CanPrepare(_listenDataSource)) throw new NotSupportedException("LISTEN needs a dedicated connection: use a data source without Multiplexing.");
        var subscription = new Subscription(this, subscriber);
        subscription.Start();
        try
        {
            await subscription.FirstAttempt.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The caller never gets the subscription, so nobody else could stop its loop.
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return subscription;
    }

    /// <inheritdoc/>
    public async ValueTask<int> PruneAsync(DateTimeOffset now, CancellationToken ct) =>
        await ExecuteAsync(_dataSource, _prepare, _prune, [Instant(now)], ct).ConfigureAwait(false);

    private static RevocationEntry ReadEntry(NpgsqlDataReader r) => new(
        // Column order is Columns.
        r.GetInt64(0),
        new RevocationRecord((RevocationKind)r.GetInt16(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3), r.GetFieldValue<DateTimeOffset>(4)));

    /// <summary>One subscriber's LISTEN connection and the loop that keeps it up.</summary>
    private sealed class Subscription(PostgresRevocationChannel channel, IRevocationSubscriber subscriber) : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _loop = Task.CompletedTask;
        // Set by the Notification event, which Npgsql raises inside WaitAsync or a command on the loop's own
        // await chain, so only the loop touches it; the payload is not needed, the read starts at _last.
        private bool _notified;

        public Task FirstAttempt => _firstAttempt.Task;

        public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);

        public async ValueTask DisposeAsync()
        {
            if (_stop.IsCancellationRequested) return;
            _stop.Cancel();
            await _loop.ConfigureAwait(false);
            _stop.Dispose();
        }

        private async Task RunAsync(CancellationToken ct)
        {
            var backoff = MinBackoff;
            while (!ct.IsCancellationRequested)
            {
                var connected = false;
                NpgsqlConnection? conn = null;
                try
                {
                    conn = await channel._listenDataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                    conn.Notification += (_, _) => _notified = true;
                    var last = await ListenAsync(conn, ct).ConfigureAwait(false);
                    connected = true;
                    backoff = MinBackoff;
                    // Entries up to `last` committed before LISTEN took effect may never be notified: the
                    // subscriber's replay from its own cursor, which this call triggers, covers them.
                    subscriber.OnConnected();
                    _firstAttempt.TrySetResult();
                    while (true)
                    {
                        if (_notified)
                        {
                            _notified = false;
                            last = await PushAfterAsync(conn, last, ct).ConfigureAwait(false);
                        }
                        else if (!await conn.WaitAsync(Heartbeat, ct).ConfigureAwait(false))
                        {
                            await using var ping = new NpgsqlCommand("SELECT 1", conn);
                            await ping.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                        }
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    if (conn is not null) await HandBackAsync(conn).ConfigureAwait(false);
                    return;
                }
                catch (Exception e)
                {
                    // Any failure (a terminated backend, a restart, a refused connect) means the same thing
                    // here: pushes may be missed until the next connection, whose OnConnected replays.
                    if (e is NpgsqlException n && IsConnectionFault(n)) channel._listenDataSource.Clear();
                }
                finally
                {
                    if (conn is not null) await conn.DisposeAsync().ConfigureAwait(false);
                    _firstAttempt.TrySetResult();
                }
                if (connected) subscriber.OnDisconnected();
                try
                {
                    await Task.Delay(backoff, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }

        /// <summary>
        /// Stops listening and drops the name before the connection goes back to the pool: Npgsql resets a
        /// pooled connection only when it is next handed out, and until then the idle connection would still
        /// receive (and buffer) notifications and show up as a listener in pg_stat_activity.
        /// </summary>
        private static async Task HandBackAsync(NpgsqlConnection conn)
        {
            if (conn.State != System.Data.ConnectionState.Open) return;
            try
            {
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await using var reset = new NpgsqlCommand("UNLISTEN *; RESET application_name", conn);
                await reset.ExecuteNonQueryAsync(limit.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NpgsqlException or OperationCanceledException or InvalidOperationException)
            {
                // A connection that cannot take the reset is broken, and the pool discards a broken one.
            }
        }

        /// <summary>Names the connection, starts listening, and returns the log's last cursor at that moment.</summary>
        private async Task<long> ListenAsync(NpgsqlConnection conn, CancellationToken ct)
        {
            await using (var name = new NpgsqlCommand("SELECT set_config('application_name', $1, false)", conn))
            {
                name.Parameters.Add(Text(channel.ListenerApplicationName));
                await name.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using (var listen = new NpgsqlCommand(channel._listen, conn))
                await listen.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            // Read after LISTEN is active: anything with a higher cursor commits later and is notified.
            await using var max = new NpgsqlCommand(channel._maxCursor, conn);
            return (long)(await max.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
        }

        /// <summary>Pushes every entry after <paramref name="last"/>, in order; returns the new last cursor.</summary>
        private async Task<long> PushAfterAsync(NpgsqlConnection conn, long last, CancellationToken ct)
        {
            // Read by range rather than by each payload: notifications can arrive several per wake-up, and
            // since cursors commit in order, everything up to the newest notified one is already visible.
            while (true)
            {
                await using var cmd = new NpgsqlCommand(channel._readAfter, conn);
                cmd.Parameters.Add(Long(last));
                cmd.Parameters.Add(Int(PushPageSize));
                await cmd.PrepareAsync(ct).ConfigureAwait(false);
                var page = new List<RevocationEntry>();
                await using (var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(ct).ConfigureAwait(false)) page.Add(ReadEntry(reader));
                }
                foreach (var entry in page)
                {
                    subscriber.OnPushed(entry);
                    last = entry.Cursor;
                }
                if (page.Count < PushPageSize) return last;
            }
        }
    }
}
