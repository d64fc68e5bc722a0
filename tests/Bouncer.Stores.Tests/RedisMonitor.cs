using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// Records every command the server executes (Redis <c>MONITOR</c>, over a raw socket: StackExchange.Redis
/// does not speak it), so a test can check what a store really sent rather than what it claims to send.
/// </summary>
public sealed class RedisMonitor : IAsyncDisposable
{
    private readonly TcpClient _client = new();
    private readonly Stream _stream;
    private readonly List<byte> _pending = [];

    private RedisMonitor(EndPoint endPoint, string? password)
    {
        switch (endPoint)
        {
            case IPEndPoint ip: _client.Connect(ip); break;
            case DnsEndPoint dns: _client.Connect(dns.Host, dns.Port); break;
            default: throw new NotSupportedException($"Cannot monitor {endPoint}.");
        }
        _stream = _client.GetStream();
        if (password is not null) Send("AUTH", password);
        Send("MONITOR");
    }

    /// <summary>Starts monitoring the (first) server of <paramref name="redis"/>; returns once MONITOR is on.</summary>
    public static async Task<RedisMonitor> StartAsync(ConnectionMultiplexer redis, string configuration)
    {
        var monitor = new RedisMonitor(redis.GetEndPoints()[0], ConfigurationOptions.Parse(configuration).Password);
        var status = await monitor.ReadLineAsync();
        if (status.StartsWith("-", StringComparison.Ordinal)) throw new InvalidOperationException("MONITOR refused: " + status);
        if (status != "+OK") status = await monitor.ReadLineAsync();   // the AUTH reply came first
        if (status != "+OK") throw new InvalidOperationException("MONITOR refused: " + status);
        return monitor;
    }

    /// <summary>
    /// Sends <c>ECHO marker</c> through <paramref name="redis"/> and returns every command executed before
    /// it (each as its argument list), so nothing in flight is missed.
    /// </summary>
    public async Task<List<RedisValue[]>> StopAsync(ConnectionMultiplexer redis)
    {
        var marker = "monitor-end-" + Guid.NewGuid().ToString("N");
        await redis.GetDatabase().ExecuteAsync("ECHO", marker);
        var commands = new List<RedisValue[]>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var line = await ReadLineAsync(timeout.Token);
            var args = ParseMonitorLine(line);
            if (args.Length == 2 && string.Equals(args[0], "ECHO", StringComparison.OrdinalIgnoreCase) && args[1] == marker) return commands;
            commands.Add(args);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }

    private void Send(params string[] args)
    {
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args) sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        _stream.Write(Encoding.UTF8.GetBytes(sb.ToString()));
    }

    // MONITOR lines are latin-1 safe: the server escapes every byte outside printable ASCII.
    private async Task<string> ReadLineAsync(CancellationToken ct = default)
    {
        var buffer = new byte[4096];
        while (true)
        {
            for (var i = 1; i < _pending.Count; i++)
            {
                if (_pending[i - 1] == '\r' && _pending[i] == '\n')
                {
                    var line = Encoding.Latin1.GetString(_pending.GetRange(0, i - 1).ToArray());
                    _pending.RemoveRange(0, i + 1);
                    return line;
                }
            }
            var n = await _stream.ReadAsync(buffer, ct);
            if (n == 0) throw new EndOfStreamException("MONITOR connection closed.");
            _pending.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }

    /// <summary>
    /// Parses <c>+1700000000.123 [0 127.0.0.1:5000] "EVALSHA" "ab" "1" "k\x00"</c> into its arguments,
    /// undoing the server's escapes (\" \\ \n \r \t \a \b \xHH) so binary arguments come back exact.
    /// </summary>
    internal static RedisValue[] ParseMonitorLine(string line)
    {
        var start = line.IndexOf("] ", StringComparison.Ordinal);
        if (!line.StartsWith('+') || start < 0) throw new FormatException("Not a MONITOR line: " + line);
        var args = new List<RedisValue>();
        var i = start + 2;
        while (i < line.Length)
        {
            if (line[i] == ' ') { i++; continue; }
            if (line[i] != '"') throw new FormatException("Expected a quoted argument: " + line);
            i++;
            var bytes = new List<byte>();
            while (line[i] != '"')
            {
                if (line[i] != '\\') { bytes.Add((byte)line[i++]); continue; }
                var e = line[i + 1];
                i += 2;
                switch (e)
                {
                    case 'x':
                        bytes.Add(Convert.ToByte(line.Substring(i, 2), 16));
                        i += 2;
                        break;
                    case 'n': bytes.Add((byte)'\n'); break;
                    case 'r': bytes.Add((byte)'\r'); break;
                    case 't': bytes.Add((byte)'\t'); break;
                    case 'a': bytes.Add(7); break;
                    case 'b': bytes.Add(8); break;
                    default: bytes.Add((byte)e); break;
                }
            }
            i++;
            args.Add(bytes.ToArray());
        }
        return [.. args];
    }
}
