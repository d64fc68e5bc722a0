using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;

namespace Bouncer.Verifier.Tests;

/// <summary>
/// The real Bouncer server (built dll) as a child process on a free loopback port, memory store, with an admin
/// bootstrap user and a short key pre-publication delay; stopped by its process at dispose.
/// </summary>
public sealed class BouncerServer : IAsyncDisposable
{
    public const string Admin = "admin";
    public const string Password = "correct horse battery staple";
    public static readonly TimeSpan PrePublication = TimeSpan.FromSeconds(2);

    private readonly Process _process;
    private readonly HttpClient _http;

    private BouncerServer(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        Port = new Uri(baseUrl).Port;
        _http = new HttpClient { BaseAddress = new Uri(baseUrl) };
    }

    public string BaseUrl { get; }
    public int Port { get; }

    public static Task<BouncerServer> StartAsync(params string[] extraArguments) => StartOnAsync(FreePort(), extraArguments);

    /// <summary>Starts the server on <paramref name="port"/> (a test that puts a proxy in front picks it first).</summary>
    public static async Task<BouncerServer> StartOnAsync(int port, params string[] extraArguments)
    {
        var serverPath = typeof(BouncerServer).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ServerPath").Value!;
        if (!File.Exists(serverPath)) throw new InvalidOperationException($"Server not built at {serverPath}.");
        var baseUrl = $"http://127.0.0.1:{port}";
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            serverPath, "--urls", baseUrl, "--store", "memory", "--Bouncer:BootstrapAdmin", Admin,
            "--Bouncer:KeyPrePublicationDelay", PrePublication.ToString(),
            // Every test registers its own users from one loopback address: the per-address limit is for the internet.
            "--Bouncer:RegistrationsPerMinute", "100000", "--Bouncer:RefreshesPerMinute", "100000",
            // No grace window: the second presentation of a rotated refresh token is reuse at once.
            "--Bouncer:Refresh:GraceWindow", "00:00:00",
            // The verifiers run on this machine: the feed's loopback access (FeedKeyTests require the key again).
            "--Bouncer:RevocationFeedAccess", "KeyOrLoopback",
        }.Concat(extraArguments))
            start.ArgumentList.Add(arg);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new BouncerServer(process, baseUrl);
        await server.WaitForHealthAsync();
        return server;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async Task RegisterAsync(string user)
    {
        var response = await _http.PostAsJsonAsync("/auth/register", new { username = user, password = Password });
        if (response.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"register {user}: {(int)response.StatusCode}");
    }

    /// <summary>Logs in in JWT mode: (access token, refresh token).</summary>
    public async Task<(string Access, string Refresh)> LoginAsync(string user)
    {
        var response = await _http.PostAsJsonAsync("/auth/login", new { username = user, password = Password, mode = "jwt" });
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (body.RootElement.GetProperty("access_token").GetString()!, body.RootElement.GetProperty("refresh_token").GetString()!);
    }

    public async Task<string> RegisterAndLoginAsync(string user)
    {
        await RegisterAsync(user);
        return (await LoginAsync(user)).Access;
    }

    public Task<HttpResponseMessage> RefreshAsync(string refreshToken) =>
        _http.PostAsJsonAsync("/auth/refresh", new { refresh_token = refreshToken });

    public Task<HttpResponseMessage> PostAsync(string path, string bearer)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return _http.SendAsync(request);
    }

    private async Task WaitForHealthAsync()
    {
        for (var i = 0; i < 300; i++)
        {
            if (_process.HasExited) throw new InvalidOperationException("The Bouncer server exited at start.");
            try
            {
                if ((await _http.GetAsync("/healthz")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("The Bouncer server did not answer /healthz within 30 s.");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
