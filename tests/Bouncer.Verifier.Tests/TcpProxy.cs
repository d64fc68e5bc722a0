using System.Net;
using System.Net.Sockets;

namespace Bouncer.Verifier.Tests;

/// <summary>
/// A loopback TCP forwarder that can be cut (every connection reset, new ones refused) and restored on the same
/// port: how a test drops a downstream's feed connection without touching the server.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly int _target;
    private readonly List<TcpClient> _open = [];
    private readonly Lock _gate = new();
    private TcpListener? _listener;
    private Task? _accepting;

    public TcpProxy(int targetPort)
    {
        _target = targetPort;
        Port = BouncerServer.FreePort();
        Restore();
    }

    public int Port { get; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>Listens again on the same port.</summary>
    public void Restore()
    {
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        _listener = listener;
        _accepting = Task.Run(() => AcceptAsync(listener));
    }

    /// <summary>Stops listening and resets every open connection.</summary>
    public async Task CutAsync()
    {
        _listener?.Stop();
        if (_accepting is not null) await _accepting;
        lock (_gate)
        {
            foreach (var client in _open)
            {
                // Linger 0: a reset, so the peer sees the drop at once (a pump may already have closed it).
                try { client.Client?.LingerState = new LingerOption(true, 0); }
                catch (ObjectDisposedException) { }
                client.Dispose();
            }
            _open.Clear();
        }
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (true)
        {
            TcpClient inbound;
            try { inbound = await listener.AcceptTcpClientAsync(); }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { return; }
            var outbound = new TcpClient();
            try { await outbound.ConnectAsync(IPAddress.Loopback, _target); }
            catch (SocketException) { inbound.Dispose(); outbound.Dispose(); continue; }
            lock (_gate) { _open.Add(inbound); _open.Add(outbound); }
            _ = PumpAsync(inbound, outbound);
            _ = PumpAsync(outbound, inbound);
        }
    }

    private volatile bool _frozen;

    /// <summary>Keeps every connection open but passes nothing on until <see cref="Thaw"/>: a peer that hangs, not one that resets.</summary>
    public void Freeze() => _frozen = true;

    public void Thaw() => _frozen = false;

    private async Task PumpAsync(TcpClient from, TcpClient to)
    {
        try
        {
            var buffer = new byte[16 * 1024];
            var source = from.GetStream();
            var target = to.GetStream();
            int read;
            while ((read = await source.ReadAsync(buffer)) > 0)
            {
                while (_frozen) await Task.Delay(20);
                await target.WriteAsync(buffer.AsMemory(0, read));
            }
        }
        catch (Exception) { }
        // Either side gone: close both, so the peer sees the drop at once.
        from.Dispose();
        to.Dispose();
    }

    public async ValueTask DisposeAsync() => await CutAsync();
}
