using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Sqlite;

/// <summary>
/// The connection handling every SQLite store shares: one file in WAL mode, one writer connection that
/// this object's writes queue on (SQLite admits one writer at a time anyway), pooled reader connections,
/// <c>synchronous=FULL</c> and a busy timeout on every connection. Thread-safe.
/// </summary>
/// <remarks>
/// Several stores may share one instance (<see cref="SqliteBouncerStores.Open"/> does): their writes then
/// queue in process instead of contending for SQLite's file lock. Statements are cached per connection by
/// their text, so each is compiled once per connection.
/// </remarks>
internal sealed partial class SqliteDatabase : IDisposable
{
    /// <summary>How long a write waits for another process's write lock before failing.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(10);

    // Readers kept open beyond this are closed on return; more may be open briefly under a burst.
    private static readonly int MaxIdleReaders = Math.Max(4, Environment.ProcessorCount * 2);

    private readonly string _connectionString;
    private readonly string _readerConnectionString;
    private readonly string _path;
    private readonly bool _mayCreate;
    private readonly string _description;
    private readonly Func<string, Exception?, SqliteStoreException> _exceptionFactory;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    // Idle readers. A bag keeps one list per thread, so a caller mostly gets back the connection it returned last,
    // its statement and pages still in the CPU's cache (a FIFO queue hands out every connection in turn, slower per
    // lookup: the "exp:" rows of bench/results/store.md). Counted apart: ConcurrentBag.Count, which this pool
    // once asked on every return, locks every thread's list.
    private readonly ConcurrentBag<Connection> _readers = [];
    private int _idleReaders;
    private Connection? _writer;
    private volatile bool _disposed;

    /// <summary>Parses the path or connection string; opens nothing yet (see <see cref="EnsureSchema"/>).</summary>
    /// <param name="pathOrConnectionString">A file path or a Microsoft.Data.Sqlite connection string.</param>
    /// <param name="description">Names the owner in messages, e.g. "SQLite session store".</param>
    /// <param name="exceptionFactory">Builds the exception for a database failure from its message (which
    /// names the file) and cause; null: <see cref="SqliteStoreException"/>.</param>
    /// <exception cref="ArgumentException">An in-memory database: WAL and durability need a file.</exception>
    public SqliteDatabase(string pathOrConnectionString, string description = "SQLite store",
        Func<string, Exception?, SqliteStoreException>? exceptionFactory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        _description = description;
        _exceptionFactory = exceptionFactory ?? ((message, inner) => new SqliteStoreException(message, inner));
        var builder = LooksLikeConnectionString(pathOrConnectionString)
            ? new SqliteConnectionStringBuilder(pathOrConnectionString)
            : new SqliteConnectionStringBuilder { DataSource = pathOrConnectionString };
        if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:")
            throw new ArgumentException($"The {description} needs a database file; use the in-memory store instead.", nameof(pathOrConnectionString));
        // The connections are kept open here (with their pragmas and compiled statements), so the driver's
        // pool would only keep files open after Dispose.
        builder.Pooling = false;
        builder.DefaultTimeout = (int)BusyTimeout.TotalSeconds;
        _connectionString = builder.ToString();
        // Readers only read: opened read-only, a stray write on one fails instead of bypassing the writer's queue.
        _readerConnectionString = new SqliteConnectionStringBuilder(_connectionString) { Mode = SqliteOpenMode.ReadOnly }.ToString();
        _path = builder.DataSource;
        // Only a plain path SQLite may create is created here first; a file: URI or |DataDirectory| is left to SQLite.
        _mayCreate = builder.Mode == SqliteOpenMode.ReadWriteCreate
            && !_path.StartsWith("file:", StringComparison.OrdinalIgnoreCase) && !_path.Contains('|');
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => Path.GetFullPath(_path);

    /// <summary>True when the data source is a plain file path (not a <c>file:</c> URI or <c>|DataDirectory|</c>), so
    /// files beside it may be named from <see cref="DatabasePath"/>.</summary>
    public bool IsPlainPath => !_path.StartsWith("file:", StringComparison.OrdinalIgnoreCase) && !_path.Contains('|');

    /// <summary>True once <see cref="Dispose"/> has run: no connection is handed out any more.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>True for a name that may be spliced into SQL as a quoted table name.</summary>
    public static bool IsIdentifier(string? name) => name is not null && IdentifierPattern().IsMatch(name);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="tableName"/> is a safe identifier.</summary>
    public static void CheckTableName(string? tableName, string paramName)
    {
        // A table name cannot be a bound parameter, so it is checked against a strict pattern before it is
        // ever spliced into SQL; every value is bound.
        if (!IsIdentifier(tableName))
            throw new ArgumentException("Table name must be 1 to 63 letters, digits or underscores, not starting with a digit.", paramName);
    }

    /// <summary>Switches the file to WAL mode and runs <paramref name="schemaSql"/> (idempotent DDL).</summary>
    /// <exception cref="SqliteStoreException">Unopenable or corrupt file, or WAL mode refused.</exception>
    /// <param name="schemaSql">Idempotent statements (CREATE ... IF NOT EXISTS).</param>
    /// <param name="migrate">Runs after them on the writer connection inside a <c>BEGIN IMMEDIATE</c> transaction (so
    /// processes opening the same file at once migrate one after the other), for changes SQL alone cannot make
    /// conditional, such as adding a column a table created by an older version lacks. Null: none.</param>
    public void EnsureSchema(string schemaSql, Action<SqliteConnection, SqliteTransaction>? migrate = null)
    {
        _writeGate.Wait();
        try { EnsureSchemaCore(schemaSql, migrate); }
        finally { _writeGate.Release(); }
    }

    /// <inheritdoc cref="EnsureSchema"/>
    public async ValueTask EnsureSchemaAsync(string schemaSql, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try { EnsureSchemaCore(schemaSql, null); }
        finally { _writeGate.Release(); }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the writer connection, after every earlier write of this instance.
    /// A <see cref="SqliteException"/> escaping it becomes a <see cref="SqliteStoreException"/>.
    /// </summary>
    public async ValueTask<T> WriteAsync<T>(Func<Connection, T> work, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer ??= Open(_connectionString);
            return work(_writer);
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { _writeGate.Release(); }
    }

    /// <summary>Runs <paramref name="work"/> on a pooled reader connection; reads never wait for the writer (WAL).</summary>
    public T Read<T>(Func<Connection, T> work, CancellationToken ct) =>
        Read(work, static (connection, work) => work(connection), ct);

    /// <summary>
    /// As <see cref="Read{T}(Func{Connection, T}, CancellationToken)"/> with the work's state passed in, so a static
    /// lambda needs no closure on the lookup path.
    /// </summary>
    public T Read<TState, T>(TState state, Func<Connection, TState, T> work, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        Connection? lease = null;
        try
        {
            lease = TakeReader() ?? Open(_readerConnectionString);
            return work(lease, state);
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally
        {
            if (lease is not null) ReturnReader(lease);
        }
    }

    private Connection? TakeReader()
    {
        if (!_readers.TryTake(out var reader)) return null;
        Interlocked.Decrement(ref _idleReaders);
        return reader;
    }

    private void ReturnReader(Connection reader)
    {
        if (!_disposed)
        {
            if (Interlocked.Increment(ref _idleReaders) <= MaxIdleReaders)
            {
                _readers.Add(reader);
                CloseIfDisposed();
                return;
            }
            Interlocked.Decrement(ref _idleReaders);
        }
        reader.Dispose();
    }

    // A reader returned while Dispose ran may have been pooled after Dispose emptied the pool: empty it again.
    private void CloseIfDisposed()
    {
        // The fence orders a return's Add before its read of _disposed, and Dispose's write of _disposed before its
        // TryTake: either the return sees _disposed here, or Dispose sees the returned reader in the bag.
        Interlocked.MemoryBarrier();
        if (!_disposed) return;
        while (_readers.TryTake(out var reader)) reader.Dispose();
    }

    /// <summary>Closes every connection. Calls in flight finish; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _writeGate.Wait();
        try
        {
            _writer?.Dispose();
            _writer = null;
        }
        finally { _writeGate.Release(); }
        CloseIfDisposed();
    }

    private void EnsureSchemaCore(string schemaSql, Action<SqliteConnection, SqliteTransaction>? migrate)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            _writer ??= Open(_connectionString);
            using var cmd = _writer.Sqlite.CreateCommand();
            // journal_mode is stored in the file, so it is set once here for every connection and process.
            cmd.CommandText = "PRAGMA journal_mode=WAL;";
            var mode = Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                throw _exceptionFactory($"{_description} '{DatabasePath}': cannot switch to WAL mode (journal_mode is '{mode}').", null);
            cmd.CommandText = schemaSql;
            cmd.ExecuteNonQuery();
            if (migrate is not null)
            {
                using var tx = _writer.Sqlite.BeginTransaction(deferred: false);
                migrate(_writer.Sqlite, tx);
                tx.Commit();
            }
        }
        catch (SqliteException ex)
        {
            // Typically SQLITE_CANTOPEN (missing folder, no permission) or SQLITE_NOTADB (corrupt file).
            _writer?.Dispose();
            _writer = null;
            throw Wrap(ex);
        }
    }

    private Connection Open(string connectionString)
    {
        CreateOwnerOnlyFile();
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            // synchronous and busy_timeout are per connection. FULL fsyncs the WAL at every commit, so a
            // committed write survives power loss (NORMAL could lose the last commits). busy_timeout makes a
            // write wait for another process's lock instead of failing with SQLITE_BUSY.
            cmd.CommandText = $"PRAGMA synchronous=FULL; PRAGMA busy_timeout={(int)BusyTimeout.TotalMilliseconds};";
            cmd.ExecuteNonQuery();
            return new Connection(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates the missing database file empty, readable and writable by its owner only (0600 on Unix), before
    /// SQLite would create it 0644: it holds password hashes and signing secrets. SQLite creates the -wal and
    /// -shm files with the database file's mode. An existing file keeps whatever mode its operator chose.
    /// </summary>
    private void CreateOwnerOnlyFile()
    {
        if (!_mayCreate || OperatingSystem.IsWindows() || File.Exists(_path)) return;
        try
        {
            // CreateNew: a file another process created meanwhile is left alone (and its mode with it).
            using var _ = new FileStream(_path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Already there, a missing folder or no permission: SQLite's own open reports the last two.
        }
    }

    private SqliteStoreException Wrap(SqliteException ex) => _exceptionFactory($"{_description} '{DatabasePath}': {ex.Message}", ex);

    private static bool LooksLikeConnectionString(string s)
    {
        var t = s.TrimStart();
        return t.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase)
            || t.StartsWith("DataSource=", StringComparison.OrdinalIgnoreCase)
            || t.StartsWith("Filename=", StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex IdentifierPattern();
}
