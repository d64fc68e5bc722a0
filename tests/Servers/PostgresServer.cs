using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>
/// A private PostgreSQL cluster for the tests: initdb into a temp folder, postmaster on 127.0.0.1 and a
/// free port, its socket in that folder (never the system socket dir), stopped by PID and deleted on
/// dispose. When BOUNCER_TEST_POSTGRES holds a connection string, that server is used instead and
/// nothing is started (then <see cref="Kill"/> and <see cref="Restart"/> are unavailable).
/// </summary>
public sealed class PostgresServer : IDisposable
{
    /// <summary>Environment variable naming an existing server to use instead of a private one.</summary>
    public const string EnvironmentVariable = "BOUNCER_TEST_POSTGRES";

    private const string MissingBinaries =
        "PostgreSQL binaries not found: run ./test.sh, which installs them, or set " + EnvironmentVariable + ".";

    private readonly string? _binDir;
    private readonly string? _root;
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>The server named by BOUNCER_TEST_POSTGRES, or else a private cluster (the collection fixture).</summary>
    public PostgresServer() : this(allowExternal: true) { }

    private PostgresServer(bool allowExternal)
    {
        var external = allowExternal ? Environment.GetEnvironmentVariable(EnvironmentVariable) : null;
        if (!string.IsNullOrWhiteSpace(external))
        {
            ConnectionString = external;
        }
        else
        {
            _binDir = FindBinaries() ?? throw new InvalidOperationException(MissingBinaries);
            _root = Directory.CreateTempSubdirectory("bouncer-pg-").FullName;
            try
            {
                InitCluster();
                // Another test process (other backends' launchers) may grab the free port between our
                // probe and the postmaster's bind: try a few ports before giving up.
                for (var attempt = 1; ; attempt++)
                {
                    Port = FreePort();
                    File.WriteAllText(Path.Combine(DataDir, "bouncer_test.conf"), $"port = {Port}\n");
                    try
                    {
                        Start();
                        break;
                    }
                    catch (InvalidOperationException) when (attempt < 3 && !File.Exists(Path.Combine(DataDir, "postmaster.pid")))
                    {
                    }
                }
            }
            catch
            {
                DeleteRoot();
                throw;
            }
            ConnectionString = new NpgsqlConnectionStringBuilder
            {
                Host = "127.0.0.1", Port = Port, Username = "postgres", Database = "postgres",
                IncludeErrorDetail = true, Timeout = 15,
            }.ConnectionString;
        }
        _dataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    /// <summary>Always starts a private cluster, whatever BOUNCER_TEST_POSTGRES says (for kill/restart tests).</summary>
    public static PostgresServer StartPrivate() => new(allowExternal: false);

    public string ConnectionString { get; }

    /// <summary>Port of the private cluster (0 for an external server).</summary>
    public int Port { get; private set; }

    /// <summary>True when this is a private cluster this process started and may kill.</summary>
    public bool IsPrivate => _root is not null;

    /// <summary>A data source shared by the tests of this server (the store's usual setup).</summary>
    public NpgsqlDataSource DataSource => _dataSource;

    private string DataDir => Path.Combine(_root!, "data");

    /// <summary>
    /// Crashes the server: SIGKILL to the postmaster and every backend, no shutdown checkpoint, as a
    /// power cut would look to the process tree. Committed work must survive through WAL replay.
    /// </summary>
    public void Kill()
    {
        RequirePrivate();
        var pid = PostmasterPid();
        // Freeze the postmaster first: it forks no new backend, and live backends do not see it die
        // (they would send a polite 57P01 "unexpected postmaster exit" to their clients). Then every
        // backend dies mid-sentence and clients find plain dead sockets, as after a real crash.
        Run("kill", ["-STOP", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var children = ChildrenOf(pid);
        foreach (var p in children.Append(pid))
        {
            try { Process.GetProcessById(p).Kill(); }
            catch (ArgumentException) { }          // already gone
            catch (InvalidOperationException) { }
        }
        foreach (var p in children.Append(pid)) WaitDead(p);
        // The dead postmaster may linger as a zombie when no init reaps it, and its lock files would then
        // stop the restart ("another postmaster is running"). They are stale: remove them.
        File.Delete(Path.Combine(DataDir, "postmaster.pid"));
        foreach (var f in Directory.GetFiles(_root!, ".s.PGSQL.*")) File.Delete(f);
    }

    /// <summary>Stops the cluster cleanly (fast shutdown: clients get 57P01, a checkpoint is written).</summary>
    public void Stop()
    {
        RequirePrivate();
        RunPg("pg_ctl", ["stop", "-D", DataDir, "-m", "fast", "-w", "-t", "30"]);
    }

    /// <summary>Starts the cluster again on the same port and data folder (after <see cref="Kill"/> or <see cref="Stop"/>).</summary>
    public void Restart()
    {
        RequirePrivate();
        Start();
    }

    /// <summary>Stops a private cluster (fast shutdown, else SIGKILL by PID) and deletes its folder.</summary>
    public void Dispose()
    {
        _dataSource.Dispose();
        if (_root is null) return;
        try
        {
            if (File.Exists(Path.Combine(DataDir, "postmaster.pid")))
            {
                var (code, _) = RunPg("pg_ctl", ["stop", "-D", DataDir, "-m", "fast", "-w", "-t", "30"], throwOnError: false);
                if (code != 0 && File.Exists(Path.Combine(DataDir, "postmaster.pid"))) Kill();
            }
        }
        finally
        {
            DeleteRoot();
        }
    }

    private void InitCluster()
    {
        // As root, initdb and postgres refuse to run: the folder goes to the postgres user and they run as it.
        if (IsRoot) Run("chown", ["postgres:postgres", _root!]);
        // trust auth: a private, loopback-only cluster for tests; --no-sync: a throwaway folder.
        RunPg("initdb", ["-D", DataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
        // Settings go in postgresql.conf (not -c flags) so a restart picks up the same port and socket dir;
        // the port sits in an included file, rewritten if the first port pick is taken.
        // fsync off is safe for a process kill (written WAL is in the OS page cache, which survives);
        // synchronous_commit stays on, so a commit has reached the OS before the client hears of it.
        File.AppendAllText(Path.Combine(DataDir, "postgresql.conf"), $"""

            listen_addresses = '127.0.0.1'
            include_if_exists = 'bouncer_test.conf'
            unix_socket_directories = '{_root}'
            fsync = off
            synchronous_commit = on
            max_connections = 100
            shared_buffers = 32MB

            """);
    }

    private void Start()
    {
        var log = Path.Combine(_root!, "server.log");
        try
        {
            RunPg("pg_ctl", ["start", "-D", DataDir, "-l", log, "-w", "-t", "60"]);
        }
        catch (InvalidOperationException e) when (File.Exists(log))
        {
            // pg_ctl only says "examine the log output": put the server's own words in the failure.
            var tail = string.Join('\n', File.ReadLines(log).TakeLast(20));
            throw new InvalidOperationException($"{e.Message}\nserver.log:\n{tail}", e);
        }
    }

    private int PostmasterPid() => int.Parse(File.ReadLines(Path.Combine(DataDir, "postmaster.pid")).First().Trim());

    private static List<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            var stat = ReadStat(pid);
            if (stat is not null && stat.Value.Parent == parent) children.Add(pid);
        }
        return children;
    }

    private static void WaitDead(int pid)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            // A zombie ('Z') has released everything; only its parent can remove it.
            if (ReadStat(pid) is not { } s || s.State is 'Z' or 'X') return;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"PostgreSQL process {pid} did not die.");
    }

    private static (char State, int Parent)? ReadStat(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so parse after the last ')'.
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (rest[0][0], int.Parse(rest[1]));
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private (int Code, string Output) RunPg(string tool, string[] args, bool throwOnError = true)
    {
        var exe = Path.Combine(_binDir!, tool);
        return IsRoot
            ? Run("runuser", ["-u", "postgres", "--", exe, .. args], throwOnError)
            : Run(exe, args, throwOnError);
    }

    private static (int Code, string Output) Run(string file, string[] args, bool throwOnError = true)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        // Read both pipes concurrently: a full stderr pipe would otherwise stall the child.
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} timed out.");
        }
        var output = stdout.Result + stderr.Result;
        if (throwOnError && p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {p.ExitCode}:\n{output}");
        return (p.ExitCode, output);
    }

    private static string? FindBinaries()
    {
        // The first folder holding all three wins: pg_ctl starts the postgres beside it.
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(VersionOf).Select(d => Path.Combine(d, "bin"))
                : []);
        foreach (var dir in candidates)
        {
            if (!new[] { "initdb", "pg_ctl", "postgres" }.All(t => File.Exists(Path.Combine(dir, t)))) continue;
            // Resolve symlinks (/usr/local/bin -> /usr/lib/postgresql/15/bin) so pg_ctl and postgres match.
            var initdb = new FileInfo(Path.Combine(dir, "initdb"));
            return Path.GetDirectoryName(initdb.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? initdb.FullName);
        }
        return null;
    }

    private static int VersionOf(string dir) => int.TryParse(Path.GetFileName(dir), out var v) ? v : 0;

    private static int FreePort()
    {
        // Bind port 0, read what the OS gave, release it: the postmaster binds it a moment later.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool IsRoot => Environment.UserName == "root";

    private void RequirePrivate()
    {
        if (_root is null) throw new NotSupportedException("Kill and Restart need a private cluster (PostgresServer.StartPrivate).");
    }

    private void DeleteRoot()
    {
        if (_root is null) return;
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>One private cluster for every Postgres test class in the run.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "Postgres";
}
