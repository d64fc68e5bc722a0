using System.Buffers.Text;
using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Sessions;
using Bouncer.Stores.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The shared contract on a fresh database file per test, plus what only a file-backed store can get
/// wrong: WAL mode, what lands on disk, crash durability and sharing one file between processes.
/// </summary>
public sealed class SqliteSessionStoreTests : SessionStoreContract, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-sqlite-").FullName;
    private readonly List<SqliteSessionStore> _stores = [];
    private int _files;

    protected override ISessionStore CreateStore(TimeProvider clock) => Open(NewPath());

    public void Dispose()
    {
        foreach (var store in _stores) store.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void Open_NewFile_IsInWalMode()
    {
        var path = NewPath();
        Open(path);

        Assert.Equal("wal", Scalar(path, "PRAGMA journal_mode"));
    }

    [Fact]
    public async Task Open_WriterConnection_IsDurableAndWaitsForLocks()
    {
        var store = Open(NewPath());

        // synchronous is per connection: 2 = FULL, the WAL is fsynced at every commit (NORMAL, 1, may
        // lose the last commits on power loss, which a kill -9 test cannot show).
        Assert.Equal(2L, await store.ReadWriterPragmaAsync("synchronous"));
        Assert.Equal((long)SqliteSessionStore.BusyTimeout.TotalMilliseconds, await store.ReadWriterPragmaAsync("busy_timeout"));
    }

    [Fact]
    public async Task Create_FileHoldsOnlyTheDigest_NeverTheId()
    {
        var path = NewPath();
        var sessions = new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        var (_, id) = await sessions.CreateAsync("alice", default);

        var raw = (byte[])Scalar(path, "SELECT id FROM bouncer_sessions")!;

        Assert.Equal(SHA256.HashData(Base64Url.DecodeFromChars(id)), raw);
        // Neither the id's text nor its raw bytes appear anywhere on disk (main file or WAL).
        var disk = Directory.GetFiles(_folder).SelectMany(File.ReadAllBytes).ToArray();
        Assert.Equal(-1, disk.AsSpan().IndexOf(Encoding.ASCII.GetBytes(id)));
        Assert.Equal(-1, disk.AsSpan().IndexOf(Base64Url.DecodeFromChars(id)));
    }

    [Fact]
    public async Task Kill9_InTheMiddleOfWrites_EveryReportedSessionSurvives()
    {
        var path = NewPath();
        var committed = new List<string>();
        var stderr = new StringBuilder();
        var start = new ProcessStartInfo(DotnetHost(), ["exec", CrasherPath(), path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using (var child = Process.Start(start)!)
        {
            child.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
            child.BeginErrorReadLine();
            var reading = Task.Run(async () =>
            {
                while (committed.Count < 300 && await child.StandardOutput.ReadLineAsync() is { } line) committed.Add(line);
            });
            var finished = await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(60)));
            Assert.True(finished == reading && committed.Count == 300, $"child reported {committed.Count} sessions; stderr: {stderr}");

            child.Kill(entireProcessTree: true);   // SIGKILL: no finally blocks, no Dispose, mid-write
            await child.WaitForExitAsync();
            // Ids printed between our last read and the kill were committed too; a torn last line is not.
            committed.AddRange((await child.StandardOutput.ReadToEndAsync()).Split('\n').Where(l => l.Length == SessionId.Length));
        }

        var sessions = new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), TimeProvider.System, new SessionOptions
        {
            IdleTimeout = TimeSpan.FromDays(1),
            AbsoluteTimeout = TimeSpan.FromDays(2),
        });

        Assert.Equal("ok", Scalar(path, "PRAGMA integrity_check"));
        var lost = new List<string>();
        foreach (var id in committed)
            if (await sessions.GetAsync(id, default) is null) lost.Add(id);
        Assert.True(lost.Count == 0, $"{lost.Count} of {committed.Count} committed sessions lost");
    }

    [Fact]
    public async Task TwoStores_SameFile_SeeEachOthersWrites()
    {
        var path = NewPath();
        var a = new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        var b = new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);

        var (_, fromA) = await a.CreateAsync("alice", """{"by":"a"}""", null, default);
        Assert.Equal("""{"by":"a"}""", (await b.GetAsync(fromA, default))!.Data);

        var rotated = await b.RotateAsync(fromA, default);
        Assert.Null(await a.GetAsync(fromA, default));
        Assert.NotNull(await a.GetAsync(rotated!.Value.Id, default));

        Assert.True(await a.DeleteAsync(rotated.Value.Id, default));
        Assert.Null(await b.GetAsync(rotated.Value.Id, default));
    }

    [Fact]
    public async Task TwoStores_SameFile_ConcurrentWriters_AllCommit()
    {
        var path = NewPath();
        var a = new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        var b = new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);

        // Each store has its own writer connection, so these contend for SQLite's single write lock as
        // two processes would; busy_timeout must make them queue rather than fail with SQLITE_BUSY.
        await Parallel.ForAsync(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            await (i % 2 == 0 ? a : b).CreateAsync("user", ct));

        Assert.Equal(200, (await a.ListUserAsync("user", default)).Count);
        Assert.Equal(200, (await b.ListUserAsync("user", default)).Count);
    }

    [Fact]
    public async Task Create_WhileAnotherConnectionHoldsTheWriteLock_WaitsThenCommits()
    {
        var path = NewPath();
        var sessions = new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        using var other = Raw(path);
        Execute(other, "BEGIN IMMEDIATE");
        var releasing = false;
        var release = Task.Run(async () =>
        {
            await Task.Delay(300);
            Volatile.Write(ref releasing, true);   // set before COMMIT: the create cannot commit earlier
            Execute(other, "COMMIT");
        });

        // busy_timeout: the write waits for the lock instead of failing with SQLITE_BUSY.
        var (_, id) = await sessions.CreateAsync("alice", default);

        Assert.True(Volatile.Read(ref releasing));
        await release;
        Assert.NotNull(await sessions.GetAsync(id, default));
    }

    [Fact]
    public async Task Get_WhileAnotherConnectionHasAnOpenWriteTransaction_ReadsTheCommittedRow()
    {
        var path = NewPath();
        var sessions = new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        var (_, id) = await sessions.CreateAsync("alice", default);
        using var other = Raw(path);
        Execute(other, "BEGIN IMMEDIATE");
        Execute(other, "DELETE FROM bouncer_sessions");

        // WAL: readers see the last committed snapshot and never wait for a writer.
        var found = await sessions.GetAsync(id, default);

        Execute(other, "ROLLBACK");
        Assert.NotNull(found);
    }

    [Fact]
    public async Task Reopen_AfterDispose_KeepsSessions()
    {
        var path = NewPath();
        string id;
        using (var first = new SqliteSessionStore(path))
            (_, id) = await new SessionManager(first, new Bouncer.Revocation.InProcessRevocationChannel(), Clock).CreateAsync("alice", """{"k":1}""", null, default);

        var found = await new SessionManager(Open(path), new Bouncer.Revocation.InProcessRevocationChannel(), Clock).GetAsync(id, default);

        Assert.Equal("""{"k":1}""", found!.Data);
    }

    [Fact]
    public async Task Open_ConnectionStringAndTableName_AreHonoured_TablesIsolated()
    {
        var path = NewPath();
        var red = new SessionManager(Open($"Data Source={path}", "red_sessions"), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        var blue = new SessionManager(Open(path, "blue_sessions"), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);

        var (_, id) = await red.CreateAsync("alice", default);

        Assert.NotNull(await red.GetAsync(id, default));
        Assert.Null(await blue.GetAsync(id, default));
        Assert.Equal(1L, Scalar(path, "SELECT count(*) FROM red_sessions"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1abc")]
    [InlineData("sessions; DROP TABLE x")]
    [InlineData("a\"b")]
    [InlineData("sessions-2")]
    public void Open_BadTableName_Throws(string table)
    {
        Assert.Throws<ArgumentException>(() => new SqliteSessionStore(NewPath(), table));
    }

    [Theory]
    [InlineData(":memory:")]
    [InlineData("Data Source=:memory:")]
    [InlineData("Data Source=x;Mode=Memory")]
    public void Open_InMemoryDatabase_Throws(string connection)
    {
        Assert.Throws<ArgumentException>(() => new SqliteSessionStore(connection));
    }

    [Fact]
    public void Open_CorruptFile_ThrowsNamingThePath()
    {
        var path = NewPath();
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0x5A, 8192).ToArray());

        var ex = Assert.Throws<SqliteSessionStoreException>(() => new SqliteSessionStore(path));

        Assert.Contains(path, ex.Message);
        Assert.Equal(8192, new FileInfo(path).Length);   // left alone, not silently replaced
    }

    [Fact]
    public void Open_MissingFolder_ThrowsNamingThePath()
    {
        var path = Path.Combine(_folder, "no-such-folder", "sessions.db");

        var ex = Assert.Throws<SqliteSessionStoreException>(() => new SqliteSessionStore(path));

        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public async Task Reopen_HeaderWipedAfterUse_ThrowsNamingThePath()
    {
        var path = NewPath();
        var store = Open(path);
        await new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), Clock).CreateAsync("alice", default);
        store.Dispose();
        File.Delete(path + "-wal");
        File.Delete(path + "-shm");
        using (var f = File.OpenWrite(path)) f.Write(new byte[100]);   // wipe the header

        var ex = Assert.Throws<SqliteSessionStoreException>(() => new SqliteSessionStore(path));

        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public async Task Dispose_ThenUse_ThrowsObjectDisposed()
    {
        var store = Open(NewPath());
        store.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.GetAsync(SessionId.New().Key, default).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.DeleteAsync(SessionId.New().Key, default).AsTask());
    }

    [Fact]
    public async Task Dispose_DuringConcurrentReads_ClosesEveryConnection()
    {
        // Many rounds: a reader returned while Dispose empties the pool is the race this checks.
        for (var round = 0; round < 50; round++)
        {
            var path = NewPath();
            var store = new SqliteSessionStore(path);
            using var started = new CountdownEvent(4);
            Exception? failure = null;
            // Threads of their own: a read completes synchronously, so pool threads would starve the pool.
            var readers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
            {
                started.Signal();
                try { while (true) store.GetAsync(SessionId.New().Key, default).AsTask().GetAwaiter().GetResult(); }
                catch (ObjectDisposedException) { }
                catch (Exception ex) { failure = ex; }
            })).ToList();
            readers.ForEach(t => t.Start());
            started.Wait();
            await store.GetAsync(SessionId.New().Key, default);
            Assert.True(OpenFiles(path) >= 2, "the writer and at least one reader are open before Dispose");

            store.Dispose();
            readers.ForEach(t => t.Join());

            Assert.Null(failure);

            Assert.Equal(0, OpenFiles(path));
        }
    }

    // Descriptors of this process open on the database file itself (Linux: /proc/self/fd).
    private static int OpenFiles(string path)
    {
        var full = Path.GetFullPath(path);
        var count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try { if (new FileInfo(fd).LinkTarget == full) count++; }
            catch (IOException) { }   // closed while listed
        }
        return count;
    }

    private string NewPath() => Path.Combine(_folder, $"sessions{Interlocked.Increment(ref _files)}.db");

    private SqliteSessionStore Open(string pathOrConnectionString, string table = SqliteSessionStore.DefaultTableName)
    {
        var store = new SqliteSessionStore(pathOrConnectionString, table);
        lock (_stores) _stores.Add(store);
        return store;
    }

    private static SqliteConnection Raw(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        return connection;
    }

    private static object? Scalar(string path, string sql)
    {
        using var connection = Raw(path);
        return Execute(connection, sql);
    }

    private static object? Execute(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    private static string CrasherPath()
    {
        var path = typeof(SqliteSessionStoreTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "SqliteCrasherPath").Value!;
        Assert.True(File.Exists(path), $"crash helper not built: {path}");
        return path;
    }

    // The test host runs under the same dotnet the child needs; DOTNET_HOST_PATH is set by `dotnet test`.
    private static string DotnetHost() =>
        Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath!
        : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : "dotnet";
}
