using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// A private Redis Cluster for the test run: six redis-server processes on 127.0.0.1 (free ports, one temp folder
/// each, <c>--cluster-enabled yes</c>, AOF with fsync on every write, no RDB), joined by
/// <c>redis-cli --cluster create ... --cluster-replicas 1</c> into 3 masters with one replica each. A short
/// <c>cluster-node-timeout</c> lets the failover test see a replica promoted within a few seconds. Stopped by PID
/// and the folder deleted on dispose. With <c>BOUNCER_TEST_REDIS_CLUSTER</c> set (a StackExchange.Redis
/// configuration string naming the cluster's nodes) that cluster is used instead and nothing is started; it
/// cannot be killed.
/// </summary>
public sealed class RedisClusterServer : IDisposable
{
    public const string EnvironmentVariable = "BOUNCER_TEST_REDIS_CLUSTER";

    /// <summary>Masters, each with one replica.</summary>
    public const int Masters = 3;

    /// <summary>How long a node may be unreachable before the others call it failed (and its replica takes over).</summary>
    public static readonly TimeSpan NodeTimeout = TimeSpan.FromMilliseconds(1000);

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string? _root;
    private readonly List<Node> _nodes = [];

    public RedisClusterServer()
    {
        var external = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            Configuration = external;
        }
        else
        {
            var server = FindExecutable("redis-server")
                ?? throw new InvalidOperationException($"redis-server not found: run ./test.sh, which installs it, or set {EnvironmentVariable}");
            var cli = FindExecutable("redis-cli")
                ?? throw new InvalidOperationException($"redis-cli not found (it comes with redis-server): run ./test.sh, or set {EnvironmentVariable}");
            _root = Directory.CreateTempSubdirectory("bouncer-redis-cluster-").FullName;
            try
            {
                StartNodes(server);
                Create(cli);
                WaitUntilHealthy();
            }
            catch
            {
                StopAll();
                throw;
            }
            Configuration = string.Join(",", _nodes.Select(n => $"127.0.0.1:{n.Port}"));
        }

        var options = ConfigurationOptions.Parse(Configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.ConnectRetry = 5;
        options.SyncTimeout = 5000;
        options.AsyncTimeout = 5000;
        options.ReconnectRetryPolicy = new LinearRetry(250);
        // CLUSTER NODES and INFO for the failover test. Tests only; apps need no admin.
        options.AllowAdmin = true;
        Connection = ConnectionMultiplexer.Connect(options);
    }

    /// <summary>True when this fixture started the nodes (so it may kill and restart them).</summary>
    public bool IsPrivate => _root is not null;

    /// <summary>The configuration string tests connect with: every node, comma-separated.</summary>
    public string Configuration { get; }

    /// <summary>One multiplexer shared by the tests, as an app would share one.</summary>
    public ConnectionMultiplexer Connection { get; }

    /// <summary>The port of the node that now serves <paramref name="slot"/> as master (asked of a live node).</summary>
    public int MasterPortOf(int slot)
    {
        RequirePrivate();
        foreach (var line in ClusterNodes())
        {
            var f = line.Split(' ');
            if (!f[2].Contains("master", StringComparison.Ordinal) || f[2].Contains("fail", StringComparison.Ordinal)) continue;
            foreach (var range in f.Skip(8))
            {
                if (range.StartsWith('[')) continue;   // a slot being migrated
                var ends = range.Split('-');
                var (low, high) = (int.Parse(ends[0]), int.Parse(ends[^1]));
                if (slot >= low && slot <= high) return PortOf(f[1]);
            }
        }
        throw new InvalidOperationException($"No live master serves slot {slot}.");
    }

    /// <summary>Kills the node on <paramref name="port"/> with SIGKILL (no shutdown, no final fsync).</summary>
    public void Kill(int port)
    {
        RequirePrivate();
        _nodes.Single(n => n.Port == port).Kill();
    }

    /// <summary>Starts the node on <paramref name="port"/> again on its folder; it rejoins the cluster (a killed master comes back as a replica).</summary>
    public void Restart(int port)
    {
        RequirePrivate();
        _nodes.Single(n => n.Port == port).Start();
        WaitUntilHealthy();
    }

    /// <summary>
    /// Waits until <paramref name="slot"/> is served by a live master other than <paramref name="deadPort"/> and every
    /// live node says <c>cluster_state:ok</c>: the promotion after a master was killed. Returns the new master's port.
    /// </summary>
    public int WaitForPromotion(int slot, int deadPort, TimeSpan timeout)
    {
        RequirePrivate();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                var port = MasterPortOf(slot);
                if (port != deadPort && LiveNodes().All(n => ClusterInfo(n.Port).Contains("cluster_state:ok", StringComparison.Ordinal))) return port;
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or SocketException)
            {
                // Between the kill and the vote no live master may serve the slot yet.
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No replica took over slot {slot} within {timeout.TotalSeconds} s:\n{string.Join('\n', ClusterNodes())}");
            Thread.Sleep(100);
        }
    }

    /// <summary>
    /// Waits until every replica of the master on <paramref name="port"/> has acknowledged all of its replication
    /// stream (the offsets in its <c>INFO replication</c> agree): what <c>WAIT</c> would have waited for. Redis
    /// replicates asynchronously, so a write confirmed a moment before its master dies may not be on the replica.
    /// </summary>
    public void WaitForReplicas(int port, TimeSpan timeout)
    {
        RequirePrivate();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var info = Command(port, "INFO", "replication").Split("\r\n");
            var offset = info.Single(l => l.StartsWith("master_repl_offset:", StringComparison.Ordinal)).Split(':')[1];
            var replicas = info.Where(l => l.StartsWith("slave", StringComparison.Ordinal) && l.Contains("offset=", StringComparison.Ordinal)).ToList();
            if (replicas.Count > 0 && replicas.All(l => l.Split(',').Any(f => f == "offset=" + offset))) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The replicas of {port} did not catch up with offset {offset}: {string.Join("; ", replicas)}");
            Thread.Sleep(20);
        }
    }

    public void Dispose()
    {
        Connection.Dispose();
        StopAll();
    }

    private void Create(string cli)
    {
        var psi = new ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--cluster");
        psi.ArgumentList.Add("create");
        foreach (var n in _nodes) psi.ArgumentList.Add($"127.0.0.1:{n.Port}");
        foreach (var a in new[] { "--cluster-replicas", "1", "--cluster-yes" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("redis-cli did not start.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(StartTimeout))
        {
            p.Kill();
            throw new TimeoutException("redis-cli --cluster create did not finish.");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"redis-cli --cluster create exited with {p.ExitCode}:\n{stdout.Result}{stderr.Result}");
    }

    // cluster_state:ok on every live node, and each of them sees every slot covered: only then do clients
    // get the same slot map wherever they ask.
    private void WaitUntilHealthy()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                if (LiveNodes().All(n =>
                    {
                        var info = ClusterInfo(n.Port);
                        return info.Contains("cluster_state:ok", StringComparison.Ordinal)
                            && info.Contains("cluster_slots_ok:16384", StringComparison.Ordinal)
                            && info.Contains($"cluster_known_nodes:{_nodes.Count}", StringComparison.Ordinal);
                    }))
                    return;
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"The Redis Cluster did not become healthy within {StartTimeout.TotalSeconds} s:\n{string.Join('\n', _nodes.Select(n => n.LogTail()))}");
            Thread.Sleep(100);
        }
    }

    private IEnumerable<Node> LiveNodes() => _nodes.Where(n => n.IsRunning);

    private string[] ClusterNodes()
    {
        foreach (var node in LiveNodes())
        {
            try
            {
                return Command(node.Port, "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
            }
        }
        throw new InvalidOperationException("No cluster node answers.");
    }

    private static string ClusterInfo(int port) => Command(port, "CLUSTER", "INFO");

    // "127.0.0.1:7001@17001[,hostname]" (CLUSTER NODES' address field): the client port.
    private static int PortOf(string address) => int.Parse(address.Split(',')[0].Split('@')[0].Split(':')[^1]);

    /// <summary>One command over a raw socket (RESP), its bulk-string or simple-string reply as text.</summary>
    private static string Command(int port, params string[] args)
    {
        using var client = new TcpClient();
        client.ReceiveTimeout = 2000;
        client.SendTimeout = 2000;
        client.Connect(IPAddress.Loopback, port);
        using var stream = client.GetStream();
        var request = $"*{args.Length}\r\n" + string.Concat(args.Select(a => $"${a.Length}\r\n{a}\r\n"));
        stream.Write(System.Text.Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
        var head = reader.ReadLine() ?? throw new IOException("no reply");
        if (head.StartsWith('+')) return head[1..];
        if (head.StartsWith('-')) throw new IOException(head[1..]);
        if (!head.StartsWith('$')) throw new IOException("unexpected reply " + head);
        var length = int.Parse(head[1..]);
        var buffer = new char[length];
        var read = 0;
        // The body is ASCII (CLUSTER NODES / INFO), so characters and bytes agree.
        while (read < length)
        {
            var n = reader.Read(buffer, read, length - read);
            if (n == 0) throw new IOException("short reply");
            read += n;
        }
        return new string(buffer);
    }

    private void StopAll()
    {
        foreach (var node in _nodes) node.Kill();
        if (_root is not null)
        {
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { /* best effort */ }
        }
    }

    private void RequirePrivate()
    {
        if (!IsPrivate) throw new InvalidOperationException($"Only a private cluster can be inspected, killed or restarted ({EnvironmentVariable} is set).");
    }

    private static string? FindExecutable(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/local/bin"))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    // Every port is picked before any node binds it, so a pick must also avoid the earlier picks' ports and their bus
    // ports; and another process may take a port between the probe and the node's bind: then the node exits and all
    // six are picked again.
    private void StartNodes(string server)
    {
        for (var attempt = 1; ; attempt++)
        {
            var taken = new HashSet<int>();
            for (var i = 0; i < Masters * 2; i++)
            {
                var port = FreePort(taken);
                taken.Add(port);
                taken.Add(port + 10000);
                _nodes.Add(new Node(server, port, _root!));
            }
            try
            {
                foreach (var node in _nodes) node.Start();
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                foreach (var node in _nodes) node.Kill();
                _nodes.Clear();
            }
        }
    }

    private static int FreePort(HashSet<int> taken)
    {
        // A cluster node also listens on port + 10000 (the cluster bus): pick ports whose bus port is free too, and
        // that are neither an earlier pick's port nor its bus port.
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (port + 10000 > 65535 || taken.Contains(port) || taken.Contains(port + 10000)) continue;
            try
            {
                using var bus = new TcpListener(IPAddress.Loopback, port + 10000);
                bus.Start();
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }

    /// <summary>One redis-server of the cluster: its port, folder (nodes.conf, AOF, log) and process.</summary>
    private sealed class Node(string executable, int port, string root)
    {
        private readonly string _dir = Directory.CreateDirectory(Path.Combine(root, port.ToString())).FullName;
        private Process? _process;

        public int Port => port;

        public bool IsRunning => _process is { HasExited: false };

        public void Start()
        {
            var psi = new ProcessStartInfo(executable) { UseShellExecute = false, WorkingDirectory = _dir };
            foreach (var arg in new[]
            {
                "--port", port.ToString(), "--bind", "127.0.0.1", "--dir", _dir,
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", ((int)NodeTimeout.TotalMilliseconds).ToString(),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                "--daemonize", "no", "--logfile", Path.Combine(_dir, "redis.log"),
            })
            {
                psi.ArgumentList.Add(arg);
            }
            _process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start.");
            var deadline = DateTime.UtcNow + StartTimeout;
            while (true)
            {
                if (_process.HasExited) throw new InvalidOperationException($"redis-server on {port} exited with code {_process.ExitCode}:\n{LogTail()}");
                try
                {
                    if (Command(port, "PING") == "PONG") return;
                }
                catch (Exception e) when (e is IOException or SocketException)
                {
                }
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"redis-server on {port} did not answer PING:\n{LogTail()}");
                Thread.Sleep(50);
            }
        }

        public void Kill()
        {
            if (_process is null) return;
            try { _process.Kill(entireProcessTree: false); _process.WaitForExit(); }   // SIGKILL on Linux
            catch (InvalidOperationException) { /* already gone */ }
            _process.Dispose();
            _process = null;
        }

        public string LogTail()
        {
            var log = Path.Combine(_dir, "redis.log");
            return $"--- node {port}:\n" + (File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(10)) : "(no log)");
        }
    }
}

/// <summary>Every Redis Cluster test class joins this collection: one cluster per test project, its tests one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class RedisClusterCollection : ICollectionFixture<RedisClusterServer>
{
    public const string Name = "redis-cluster";
}
