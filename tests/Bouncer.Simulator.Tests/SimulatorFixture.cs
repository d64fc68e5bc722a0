using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Playwright;

namespace Bouncer.Simulator.Tests;

/// <summary>
/// Starts the real Bouncer server (Development, memory store, so demo controls exist) on a free loopback
/// port and one headless Debian chromium for the whole test class; stops both at the end.
/// </summary>
public sealed class SimulatorFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private Process? _server;
    private IPlaywright? _playwright;

    public string BaseUrl { get; private set; } = "";
    public IBrowser Browser { get; private set; } = null!;
    /// <summary>Screenshots are test artifacts: under $BOUNCER_ARTIFACTS when set (./test.sh sets it), else next to the tests.</summary>
    public string ScreenshotFolder { get; } = Path.Combine(
        Environment.GetEnvironmentVariable("BOUNCER_ARTIFACTS") is { Length: > 0 } artifacts ? artifacts : AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        // A register + login hashes with Argon2id (19 MiB); on a shared 2-core machine that alone can pass Playwright's
        // 5 s default. A longer wait changes no outcome: each assertion still waits for one exact answer.
        Assertions.SetDefaultExpectTimeout(20_000);
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} not found: run ./test.sh, which installs Debian's chromium.");
        var serverPath = typeof(SimulatorFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ServerPath").Value!;
        if (!File.Exists(serverPath)) throw new InvalidOperationException($"Server not built at {serverPath}.");
        var port = FreePort();
        BaseUrl = $"http://127.0.0.1:{port}";
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { serverPath, "--urls", BaseUrl, "--store", "memory", "--Bouncer:RegistrationsPerMinute", "100000", "--Bouncer:RefreshesPerMinute", "100000" }) start.ArgumentList.Add(arg);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        _server = Process.Start(start)!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        await WaitForHealthAsync();

        Directory.CreateDirectory(ScreenshotFolder);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        _playwright?.Dispose();
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
            await _server.WaitForExitAsync();
        }
        _server?.Dispose();
    }

    private async Task WaitForHealthAsync()
    {
        using var http = new HttpClient();
        for (var i = 0; i < 150; i++)
        {
            if (_server!.HasExited) throw new InvalidOperationException("The Bouncer server exited at start.");
            try
            {
                if ((await http.GetAsync(BaseUrl + "/healthz")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("The Bouncer server did not answer /healthz within 15 s.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
