using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// A private redis-server for the test run: 127.0.0.1, a free port, data in a temp folder, AOF with
/// fsync on every write (so a kill -9 loses nothing committed), no RDB snapshots. Stopped by PID and its
/// folder deleted on dispose. With <c>BOUNCER_TEST_REDIS</c> set (a StackExchange.Redis configuration
/// string) that server is used instead and nothing is started; it cannot be killed or restarted.
/// </summary>
public sealed class RedisServer : IDisposable
{
    public const string EnvironmentVariable = "BOUNCER_TEST_REDIS";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly string? _dataDir;
    private Process? _process;

    public RedisServer()
    {
        var external = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            Configuration = external;
        }
        else
        {
            Executable = FindExecutable()
                ?? throw new InvalidOperationException($"redis-server not found: run ./test.sh, which installs it, or set {EnvironmentVariable}");
            Port = FreePort();
            _dataDir = Directory.CreateTempSubdirectory("bouncer-redis-").FullName;
            Start();
            Configuration = $"127.0.0.1:{Port}";
        }

        var options = ConfigurationOptions.Parse(Configuration);
        // Heal by itself across a server restart instead of failing for good (the restart test relies on it).
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.ConnectRetry = 5;
        options.SyncTimeout = 5000;
        options.AsyncTimeout = 5000;
        options.ReconnectRetryPolicy = new LinearRetry(250);
        // CONFIG GET: the restart test checks that persistence is on. Tests only; apps need no admin.
        options.AllowAdmin = true;
        Connection = ConnectionMultiplexer.Connect(options);
    }

    /// <summary>True when this fixture started the server (so it may kill and restart it).</summary>
    public bool IsPrivate => _dataDir is not null;

    public string? Executable { get; }
    public int Port { get; }

    /// <summary>The configuration string tests connect with.</summary>
    public string Configuration { get; }

    /// <summary>One multiplexer shared by the tests, as an app would share one.</summary>
    public ConnectionMultiplexer Connection { get; }

    /// <summary>The PID of the running private server.</summary>
    public int Pid => _process?.Id ?? throw new InvalidOperationException("No private redis-server is running.");

    /// <summary>Kills the private server with SIGKILL (no shutdown, no final fsync).</summary>
    public void Kill()
    {
        RequirePrivate();
        if (_process is null) return;
        _process.Kill(entireProcessTree: false);   // SIGKILL on Linux
        _process.WaitForExit();
        _process.Dispose();
        _process = null;
    }

    /// <summary>Starts the private server again on the same port and data folder.</summary>
    public void Restart()
    {
        RequirePrivate();
        if (_process is not null) Kill();
        Start();
    }

    public void Dispose()
    {
        Connection.Dispose();
        if (_process is not null)
        {
            try { _process.Kill(); _process.WaitForExit(); } catch (InvalidOperationException) { /* already gone */ }
            _process.Dispose();
        }
        if (_dataDir is not null)
        {
            try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { /* best effort */ }
        }
    }

    private void Start()
    {
        var psi = new ProcessStartInfo(Executable!)
        {
            UseShellExecute = false,
            // Not redirected: nobody would drain the pipes; the server writes to its own log file.
            WorkingDirectory = _dataDir,
        };
        foreach (var arg in new[]
        {
            "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _dataDir!,
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--daemonize", "no", "--logfile", Path.Combine(_dataDir!, "redis.log"),
        })
        {
            psi.ArgumentList.Add(arg);
        }
        _process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start.");
        WaitUntilReady();
    }

    private void WaitUntilReady()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited)
                throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode}:\n{LogTail()}");
            if (Ping()) return;
            Thread.Sleep(50);
        }
        throw new TimeoutException($"redis-server did not answer PING on port {Port} within {StartTimeout.TotalSeconds} s:\n{LogTail()}");
    }

    private bool Ping()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            using var stream = client.GetStream();
            stream.Write("PING\r\n"u8);
            var buffer = new byte[64];
            var n = stream.Read(buffer);
            // "-LOADING" while the AOF is replayed: not ready yet.
            return n >= 5 && buffer.AsSpan(0, 5).SequenceEqual("+PONG"u8);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private string LogTail()
    {
        var log = Path.Combine(_dataDir!, "redis.log");
        return File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(20)) : "(no log)";
    }

    private void RequirePrivate()
    {
        if (!IsPrivate) throw new InvalidOperationException($"Only a private redis-server can be killed or restarted ({EnvironmentVariable} is set).");
    }

    private static string? FindExecutable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/local/bin"))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static int FreePort()
    {
        // Ask the OS for a free port, then release it for redis-server (a tiny race, fine for tests).
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Every Redis test class joins this collection: one server per run, tests in it run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServer>
{
    public const string Name = "redis";
}
