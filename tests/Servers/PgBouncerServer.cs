using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>
/// Two private pgbouncer processes in front of one private PostgreSQL (a <see cref="PostgresServer"/> of its own):
/// one in <c>pool_mode = session</c>, one in <c>pool_mode = transaction</c>, each on 127.0.0.1 and a free port, with
/// its config, log and pid file in a temp folder; stopped by PID and the folder deleted on dispose. As root,
/// pgbouncer refuses to run, so it switches to the postgres user (like the PostgreSQL it fronts).
/// </summary>
public sealed class PgBouncerServer : IDisposable
{
    private const string Missing = "pgbouncer not found: run ./test.sh, which installs it (Debian package pgbouncer).";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly string _root;
    private readonly List<Process> _processes = [];

    public PgBouncerServer()
    {
        var executable = FindExecutable() ?? throw new InvalidOperationException(Missing);
        Postgres = new PostgresServer();
        _root = Directory.CreateTempSubdirectory("bouncer-pgbouncer-").FullName;
        try
        {
            if (IsRoot) Run("chown", "postgres:postgres", _root);
            var direct = new NpgsqlConnectionStringBuilder(Postgres.ConnectionString);
            SessionPooled = Start(executable, "session", direct);
            TransactionPooled = Start(executable, "transaction", direct);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The PostgreSQL behind both poolers; its own connection string reaches it directly (for LISTEN).</summary>
    public PostgresServer Postgres { get; }

    /// <summary>A connection string through the pgbouncer in session pooling.</summary>
    public string SessionPooled { get; }

    /// <summary>A connection string through the pgbouncer in transaction pooling.</summary>
    public string TransactionPooled { get; }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try { if (!p.HasExited) { p.Kill(); p.WaitForExit(); } } catch (InvalidOperationException) { /* already gone */ }
            p.Dispose();
        }
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { /* best effort */ } catch (UnauthorizedAccessException) { }
        Postgres.Dispose();
    }

    private string Start(string executable, string mode, NpgsqlConnectionStringBuilder direct)
    {
        var port = FreePort();
        var dir = Path.Combine(_root, mode);
        Directory.CreateDirectory(dir);
        // Trust on loopback, as the private PostgreSQL does; a password in the target's connection string is passed on.
        File.WriteAllText(Path.Combine(dir, "userlist.txt"), $"\"{direct.Username}\" \"{direct.Password}\"\n");
        var password = string.IsNullOrEmpty(direct.Password) ? "" : $" password={direct.Password}";
        File.WriteAllText(Path.Combine(dir, "pgbouncer.ini"), $"""
            [databases]
            * = host={direct.Host} port={direct.Port} user={direct.Username}{password}

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {port}
            unix_socket_dir =
            auth_type = trust
            auth_file = {Path.Combine(dir, "userlist.txt")}
            pool_mode = {mode}
            max_client_conn = 400
            default_pool_size = {(mode == "session" ? 30 : 10)}
            ignore_startup_parameters = extra_float_digits
            logfile = {Path.Combine(dir, "pgbouncer.log")}
            pidfile = {Path.Combine(dir, "pgbouncer.pid")}

            """);
        if (IsRoot) Run("chown", "-R", "postgres:postgres", dir);
        var psi = new ProcessStartInfo(executable);
        // -u: pgbouncer drops to that user itself (same PID, so it is still stopped by PID).
        if (IsRoot) foreach (var a in new[] { "-u", "postgres" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(Path.Combine(dir, "pgbouncer.ini"));
        psi.UseShellExecute = false;
        // Not redirected: nobody would drain the pipes; pgbouncer writes to its own log file.
        var process = Process.Start(psi) ?? throw new InvalidOperationException("pgbouncer did not start.");
        _processes.Add(process);
        var deadline = DateTime.UtcNow + StartTimeout;
        while (!Listening(port))
        {
            if (process.HasExited) throw new InvalidOperationException($"pgbouncer ({mode}) exited with {process.ExitCode}:\n{LogTail(dir)}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"pgbouncer ({mode}) did not listen on {port}:\n{LogTail(dir)}");
            Thread.Sleep(50);
        }
        var pooled = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = port, Username = direct.Username, Password = direct.Password, Database = direct.Database,
            IncludeErrorDetail = true, Timeout = 15,
        };
        // In session pooling each open Npgsql connection holds a server connection until Npgsql closes it, and its
        // pool keeps them open: an Npgsql pool larger than pgbouncer's waits for a server connection that never
        // frees (docs/postgres.md). Transaction pooling frees it at each commit.
        if (mode == "session") pooled.MaxPoolSize = 10;
        return pooled.ConnectionString;
    }

    private static bool Listening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string LogTail(string dir)
    {
        var log = Path.Combine(dir, "pgbouncer.log");
        return File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(20)) : "(no log)";
    }

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {p.ExitCode}: {p.StandardError.ReadToEnd()}");
    }

    private static string? FindExecutable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/sbin").Append("/usr/bin").Append("/usr/local/bin"))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, "pgbouncer");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool IsRoot => Environment.UserName == "root";
}

/// <summary>The PgBouncer test classes share one PostgreSQL and its two poolers; their tests run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class PgBouncerCollection : ICollectionFixture<PgBouncerServer>
{
    public const string Name = "pgbouncer";
}
