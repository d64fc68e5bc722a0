using System.Collections.Concurrent;
using Bouncer.Revocation;

namespace Bouncer.Stores.Sqlite;

/// <summary>
/// An <see cref="IRevocationChannel"/> on one SQLite database file: the log is a table, the push a direct
/// call within this object, a file notification for entries written by other processes (the CLI revoking
/// while the server runs, or several servers on one machine), and a poll of the file behind it.
/// </summary>
/// <remarks>
/// <para><b>Propagation bound.</b> A revocation published through this object reaches its subscribers
/// before <see cref="PublishAsync"/> returns (after the insert is committed and fsynced). After each commit the
/// publisher also writes one byte to a signal file beside the database (<see cref="SignalPath"/>, the database
/// path plus <c>-revocations</c>, owner-only, holding nothing secret); a subscribed channel watches that file
/// (inotify on Linux, through <see cref="FileSystemWatcher"/>) and reads the log as soon as it changes, so an
/// entry published through any other <see cref="SqliteRevocationChannel"/> on the same file (another process, or
/// another object in this one) arrives in milliseconds (measured in <c>bench/results/revocation.md</c>: p99
/// under 10 ms between two processes). Behind the notification the log is still polled every
/// <see cref="PollInterval"/> (one indexed <c>max(cursor)</c> read): that bounds propagation at one interval plus
/// one read (about 300 ms at the default 250 ms) when no notification comes: a writer of an older version, a
/// file system without notifications, or a watcher that could not start (the inotify instance limit). Both
/// bounds hold only while subscribed.</para>
/// <para>Cursors come from an <c>INTEGER PRIMARY KEY AUTOINCREMENT</c> column: SQLite admits one writer at a
/// time, so cursors grow in commit order, and are never reused after <see cref="PruneAsync"/> deletes the
/// newest rows.</para>
/// <para>When a poll fails (file gone, disk error) every subscriber gets
/// <see cref="IRevocationSubscriber.OnDisconnected"/>, and <see cref="IRevocationSubscriber.OnConnected"/>
/// once a poll succeeds again, so a <see cref="RevocationListener"/> knows how fresh it is.</para>
/// <para>Thread-safe. WAL mode with <c>synchronous=FULL</c>; a broken file throws
/// <see cref="SqliteStoreException"/> naming the path.</para>
/// </remarks>
/// <example>
/// <code>
/// await using var channel = new SqliteRevocationChannel("/var/lib/myapp/bouncer.db");
/// await using var listener = new RevocationListener(channel, new RevocationOptions(), TimeProvider.System);
/// await listener.StartAsync(ct);
/// </code>
/// </example>
public sealed class SqliteRevocationChannel : IRevocationChannel, IDisposable, IAsyncDisposable
{
    /// <summary>Table used when none is named.</summary>
    public const string DefaultTableName = "bouncer_revocations";

    /// <summary>How often subscribers' channels look for entries written by other processes, unless told.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(250);

    private const int PollPageSize = 256;

    private readonly SqliteDatabase _db;
    private readonly bool _ownsDatabase;
    private readonly string _insert, _readAfter, _max, _prune;
    private readonly List<IRevocationSubscriber> _subscribers = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    // Cursors already pushed directly by PublishAsync, so the poll does not push them a second time.
    private readonly ConcurrentDictionary<long, byte> _pushedHere = new();
    // Set by the signal file's watcher; the poll loop waits on it or on the fallback interval, whichever is first.
    private readonly SemaphoreSlim _wake = new(0);
    private int _wakePending;
    private FileSystemWatcher? _watcher;
    private Task? _poller;
    private long _polled;     // highest cursor the poll has handed on; touched by the poll loop only
    private bool _pollFailing;

    /// <summary>Opens (creating if needed) the database and its log table in WAL mode.</summary>
    /// <param name="pathOrConnectionString">A file path, or a Microsoft.Data.Sqlite connection string
    /// starting with <c>Data Source=</c> (or <c>DataSource=</c>, <c>Filename=</c>).</param>
    /// <param name="tableName">Letters, digits and underscores, not starting with a digit, at most 63 chars.</param>
    /// <param name="pollInterval">How often to look for entries written by other processes while subscribed;
    /// null: <see cref="DefaultPollInterval"/>. The cost is one indexed <c>max(cursor)</c> read per interval.</param>
    /// <exception cref="ArgumentException">Bad table name, or an in-memory database.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pollInterval"/> is not positive.</exception>
    /// <exception cref="SqliteStoreException">The file cannot be opened or is not a SQLite database.</exception>
    public SqliteRevocationChannel(string pathOrConnectionString, string tableName = DefaultTableName, TimeSpan? pollInterval = null)
        : this(new SqliteDatabase(pathOrConnectionString), tableName, pollInterval, ownsDatabase: true)
    {
    }

    internal SqliteRevocationChannel(SqliteDatabase db, string tableName, TimeSpan? pollInterval, bool ownsDatabase)
    {
        SqliteDatabase.CheckTableName(tableName, nameof(tableName));
        PollInterval = pollInterval ?? DefaultPollInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PollInterval, TimeSpan.Zero, nameof(pollInterval));
        _db = db;
        _ownsDatabase = ownsDatabase;
        TableName = tableName;
        // Named after the database and table so channels on other tables of the same file do not wake for nothing.
        SignalPath = db.IsPlainPath
            ? db.DatabasePath + (tableName == DefaultTableName ? "-revocations" : $"-{tableName}")
            : null;
        _insert = $"""INSERT INTO "{tableName}" (kind, subject, at, expires_at) VALUES ($p0, $p1, $p2, $p3) RETURNING cursor""";
        _readAfter = $"""SELECT cursor, kind, subject, at, expires_at FROM "{tableName}" WHERE cursor > $p0 ORDER BY cursor LIMIT $p1""";
        _max = $"""SELECT coalesce(max(cursor), 0) FROM "{tableName}" """;
        _prune = $"""DELETE FROM "{tableName}" WHERE expires_at <= $p0""";
        try
        {
            // AUTOINCREMENT: a cursor is never handed out twice, even after the newest rows are pruned, so a
            // subscriber's cursor can never skip a later entry.
            _db.EnsureSchema($"""
                CREATE TABLE IF NOT EXISTS "{tableName}" (
                    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind INTEGER NOT NULL,
                    subject TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL
                );
                CREATE INDEX IF NOT EXISTS "{tableName}_expires_at" ON "{tableName}" (expires_at);
                """);
        }
        catch when (ownsDatabase)
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => _db.DatabasePath;

    /// <summary>Name of the log table.</summary>
    public string TableName { get; }

    /// <summary>How often the file is polled for other processes' entries while subscribed, behind the signal
    /// file's notification (which normally brings them sooner).</summary>
    public TimeSpan PollInterval { get; }

    /// <summary>The signal file written after each publish and watched while subscribed; null when the database
    /// is named by a <c>file:</c> URI or <c>|DataDirectory|</c> (then only the poll carries other processes' entries).</summary>
    public string? SignalPath { get; }

    /// <inheritdoc/>
    public async ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(revocation.Subject);
        var cursor = await _db.WriteAsync(c => (long)c.Command(_insert, null, (long)revocation.Kind, revocation.Subject,
            revocation.At.ToUnixTimeMilliseconds(), revocation.ExpiresAt.ToUnixTimeMilliseconds()).ExecuteScalar()!, ct).ConfigureAwait(false);

        // Signalled and pushed only now: the entry is committed, so a reader woken by the signal, and a subscriber
        // that replays on a gap, find it in the log.
        IRevocationSubscriber[] targets;
        lock (_gate)
        {
            targets = [.. _subscribers];
            if (_poller is not null) _pushedHere.TryAdd(cursor, 0);
        }
        // After the cursor is recorded: this object's own watcher wakes too, and must not push the entry again.
        Signal();
        var entry = new RevocationEntry(cursor, revocation);
        foreach (var s in targets) s.OnPushed(entry);
        return cursor;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<RevocationEntry>> ReadAfterAsync(long cursor, int max, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return ValueTask.FromResult(ReadAfter(cursor, max, ct));
    }

    /// <inheritdoc/>
    /// <remarks>Calls <see cref="IRevocationSubscriber.OnConnected"/> once before returning; the first
    /// subscription starts the poll of the file.</remarks>
    public ValueTask<IAsyncDisposable> SubscribeAsync(IRevocationSubscriber subscriber, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ObjectDisposedException.ThrowIf(_db.IsDisposed || _stop.IsCancellationRequested, this);
        // Entries already in the log reach the subscriber by its replay on OnConnected; the poll only hands on
        // what comes later. Read outside the lock: publishers take it too.
        var start = _poller is null ? _db.Read(c => (long)c.Command(_max, null).ExecuteScalar()!, ct) : 0;
        lock (_gate)
        {
            if (_poller is null)
            {
                _polled = start;
                _watcher = StartWatcher();
                _poller = Task.Run(() => PollAsync(_stop.Token), CancellationToken.None);
            }
            _subscribers.Add(subscriber);
        }
        subscriber.OnConnected();
        return ValueTask.FromResult<IAsyncDisposable>(new Subscription(this, subscriber));
    }

    /// <inheritdoc/>
    public ValueTask<int> PruneAsync(DateTimeOffset now, CancellationToken ct) =>
        _db.WriteAsync(c => c.Command(_prune, null, now.ToUnixTimeMilliseconds()).ExecuteNonQuery(), ct);

    /// <summary>Stops the poll and closes the connections (unless shared through <see cref="SqliteBouncerStores"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        Task? poller;
        lock (_gate) poller = _poller;
        if (poller is not null) await poller.ConfigureAwait(false);
        _watcher?.Dispose();
        if (_ownsDatabase) _db.Dispose();
    }

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private IReadOnlyList<RevocationEntry> ReadAfter(long cursor, int max, CancellationToken ct) => _db.Read(c =>
    {
        using var r = c.Command(_readAfter, null, cursor, max).ExecuteReader();
        var page = new List<RevocationEntry>();
        while (r.Read())
        {
            page.Add(new RevocationEntry(r.GetInt64(0), new RevocationRecord(
                (RevocationKind)r.GetInt64(1),
                r.GetString(2),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)))));
        }
        return page;
    }, ct);

    private async Task PollAsync(CancellationToken ct)
    {
        try
        {
            while (true)
            {
                // Woken by the signal file, or the fallback interval passed: either way read what is new.
                await _wake.WaitAsync(PollInterval, ct).ConfigureAwait(false);
                Volatile.Write(ref _wakePending, 0);
                IRevocationSubscriber[] targets;
                lock (_gate) targets = [.. _subscribers];
                if (targets.Length == 0) continue;
                try
                {
                    PollOnce(targets, ct);
                    if (_pollFailing)
                    {
                        _pollFailing = false;
                        foreach (var s in targets) Notify(s, static s => s.OnConnected());
                    }
                }
                catch (Exception ex) when (ex is SqliteStoreException or IOException)
                {
                    // The log cannot be read: tell subscribers pushes from other processes may be missed, so
                    // their staleness policy applies until a poll succeeds again.
                    if (!_pollFailing)
                    {
                        _pollFailing = true;
                        foreach (var s in targets) Notify(s, static s => s.OnDisconnected());
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
            // The shared database was closed under the poll: nothing left to watch.
        }
    }

    private void PollOnce(IRevocationSubscriber[] targets, CancellationToken ct)
    {
        // One cheap indexed read per tick; the log itself is read only when another writer added to it.
        var max = _db.Read(c => (long)c.Command(_max, null).ExecuteScalar()!, ct);
        while (max > _polled)
        {
            var page = ReadAfter(_polled, PollPageSize, ct);
            if (page.Count == 0) break;   // the new rows were pruned meanwhile
            foreach (var entry in page)
            {
                if (!_pushedHere.TryRemove(entry.Cursor, out _))
                    foreach (var s in targets) Notify(s, s => s.OnPushed(entry));
                _polled = entry.Cursor;
            }
        }
        // A cursor pushed here but seen by the poll before it was recorded would otherwise stay forever.
        if (!_pushedHere.IsEmpty)
            foreach (var cursor in _pushedHere.Keys)
                if (cursor <= _polled) _pushedHere.TryRemove(cursor, out _);
    }

    // Touches the signal file so other processes' watchers read the log now instead of at their next poll.
    private void Signal()
    {
        if (SignalPath is null) return;
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write };
            // Owner-only like the database itself, though it holds one meaningless byte.
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using var file = new FileStream(SignalPath, options);
            file.WriteByte(1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only folder or a full disk: the entry is committed and the subscribers' poll still finds it.
        }
    }

    private FileSystemWatcher? StartWatcher()
    {
        if (SignalPath is null) return null;
        FileSystemWatcher? watcher = null;
        try
        {
            // The folder is watched (the file may not exist yet); the filter keeps only the signal file's events.
            watcher = new FileSystemWatcher(Path.GetDirectoryName(SignalPath)!, Path.GetFileName(SignalPath))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName,
            };
            watcher.Changed += (_, _) => Wake();
            watcher.Created += (_, _) => Wake();
            // Lost events (a full inotify queue): read the log anyway.
            watcher.Error += (_, _) => Wake();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            // No notifications here (inotify limit reached, unsupported file system): the poll carries the entries.
            watcher?.Dispose();
            return null;
        }
    }

    private void Wake()
    {
        // One pending wake is enough: the loop reads everything new each time it runs.
        if (Interlocked.Exchange(ref _wakePending, 1) == 0) _wake.Release();
    }

    private static void Notify(IRevocationSubscriber subscriber, Action<IRevocationSubscriber> call)
    {
        // A faulty subscriber must neither stop the poll nor starve the others; it replays from the log anyway.
        try { call(subscriber); }
        catch (Exception) { }
    }

    private sealed class Subscription(SqliteRevocationChannel channel, IRevocationSubscriber subscriber) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            lock (channel._gate) channel._subscribers.Remove(subscriber);
            return ValueTask.CompletedTask;
        }
    }
}
