using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Bouncer.Packaging.Tests;

/// <summary>The consuming app's built dll as a child process on a free loopback port; killed with its tree at dispose.</summary>
internal sealed class AppProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private AppProcess(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public string OutputTail => DotnetCli.Tail(string.Join('\n', _output));

    /// <summary>Starts <c>dotnet <paramref name="dll"/></c> in <paramref name="folder"/> and waits until it answers HTTP.</summary>
    public static async Task<AppProcess> StartAsync(string dll, string folder)
    {
        var baseUrl = $"http://127.0.0.1:{FreePort()}";
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { dll, "--urls", baseUrl }) start.ArgumentList.Add(argument);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var process = Process.Start(start) ?? throw new InvalidOperationException("The app did not start.");
        var app = new AppProcess(process, baseUrl);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) app._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) app._output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(5) };
        for (var attempt = 0; attempt < 600; attempt++)
        {
            Assert.False(process.HasExited, "The app exited at start:\n" + app.OutputTail);
            try
            {
                // Any answer means Kestrel listens and the engine started (the host starts its services first).
                using var _ = await http.GetAsync("/.well-known/jwks.json");
                return app;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }
        app.Dispose();
        throw new InvalidOperationException("The app never answered:\n" + app.OutputTail);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
