using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Bouncer.Cli.Tests;

/// <summary>
/// The real Bouncer server (the built dll) as a child process on a free loopback port, talked to over HTTP
/// only; killed with its process tree at dispose, also when the test failed.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    public const string Password = "correct horse battery staple";
    private const string CookieName = "__Host-bouncer";

    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly ConcurrentQueue<string> _output = new();

    private ServerProcess(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        // Cookies by hand: the session cookie is Secure (__Host-), which a cookie container keeps off plain http.
        _http = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(15) };
    }

    public string BaseUrl { get; }

    /// <summary>The last lines the server wrote (stdout and stderr), for failure messages.</summary>
    public string OutputTail => string.Join('\n', _output);

    /// <summary>Starts the server with <c>--store <paramref name="store"/> --connection <paramref name="connection"/></c> (near cache on: the default).</summary>
    public static Task<ServerProcess> StartAsync(string store, string connection, params string[] extraArguments) =>
        StartCoreAsync(store, connection, null, extraArguments);

    /// <summary>As <see cref="StartAsync"/>, with <paramref name="variable"/> removed from the server's environment.</summary>
    public static Task<ServerProcess> StartWithoutEnvironmentAsync(string variable, string store, string connection) =>
        StartCoreAsync(store, connection, variable, []);

    private static async Task<ServerProcess> StartCoreAsync(string store, string connection, string? withoutVariable, string[] extraArguments)
    {
        var serverPath = typeof(ServerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ServerPath").Value!;
        if (!File.Exists(serverPath)) throw new InvalidOperationException($"Server not built at {serverPath}.");
        var baseUrl = $"http://127.0.0.1:{FreePort()}";
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { serverPath, "--urls", baseUrl, "--store", store, "--connection", connection, "--Bouncer:RegistrationsPerMinute", "100000", "--Bouncer:RefreshesPerMinute", "100000" }.Concat(extraArguments))
            start.ArgumentList.Add(arg);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        if (withoutVariable is not null) start.Environment.Remove(withoutVariable);
        var process = Process.Start(start) ?? throw new InvalidOperationException("The Bouncer server did not start.");
        var server = new ServerProcess(process, baseUrl);
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitForHealthAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    public async Task RegisterAsync(string user)
    {
        using var response = await _http.PostAsJsonAsync("/auth/register", new { username = user, password = Password });
        if (response.StatusCode != HttpStatusCode.Created)
            throw new InvalidOperationException($"register {user}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>
    /// A session login, then the hybrid exchange on its cookie: the session's handle (from GET /auth/sessions,
    /// <c>current</c>), its cookie and its hybrid token (whose sid is checked to be that handle).
    /// </summary>
    public async Task<LoggedIn> LoginAsync(string user, string name)
    {
        using var login = await _http.PostAsJsonAsync("/auth/login", new { username = user, password = Password, mode = "session" });
        if (login.StatusCode != HttpStatusCode.NoContent)
            throw new InvalidOperationException($"login {user}: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync()}");
        var cookie = login.Headers.TryGetValues("Set-Cookie", out var setCookies)
            ? setCookies.Select(c => c.Split(';')[0]).FirstOrDefault(c => c.StartsWith(CookieName + "=", StringComparison.Ordinal))?[(CookieName.Length + 1)..]
            : null;
        if (string.IsNullOrEmpty(cookie)) throw new InvalidOperationException($"login {user}: no {CookieName} cookie.");

        using var sessionsRequest = new HttpRequestMessage(HttpMethod.Get, "/auth/sessions");
        sessionsRequest.Headers.Add("Cookie", $"{CookieName}={cookie}");
        using var sessions = await _http.SendAsync(sessionsRequest);
        sessions.EnsureSuccessStatusCode();
        using var list = JsonDocument.Parse(await sessions.Content.ReadAsStringAsync());
        var handle = list.RootElement.EnumerateArray().Single(s => s.GetProperty("current").GetBoolean()).GetProperty("id").GetString()!;

        using var exchange = new HttpRequestMessage(HttpMethod.Post, "/auth/token") { Content = JsonContent.Create(new { audience = "bouncer" }) };
        exchange.Headers.Add("Cookie", $"{CookieName}={cookie}");
        exchange.Headers.Add("Sec-Fetch-Site", "same-origin");   // the CSRF check on a cookie-borne POST
        using var exchanged = await _http.SendAsync(exchange);
        if (!exchanged.IsSuccessStatusCode)
            throw new InvalidOperationException($"POST /auth/token for {user}: {(int)exchanged.StatusCode} {await exchanged.Content.ReadAsStringAsync()}");
        using var body = JsonDocument.Parse(await exchanged.Content.ReadAsStringAsync());
        var token = body.RootElement.GetProperty("access_token").GetString()!;
        var sid = JwtClaim(token, "sid");
        if (sid != handle) throw new InvalidOperationException($"the hybrid token's sid '{sid}' is not its session's handle '{handle}'.");

        return new LoggedIn(handle, new Credential($"{name}'s cookie", cookie, null), new Credential($"{name}'s hybrid token", null, token));
    }

    /// <summary>
    /// One request: the session cookie (with <c>Sec-Fetch-Site: same-origin</c>, as a browser sends it on its own
    /// site, for the CSRF check) and/or a bearer token, and an optional JSON body. The caller disposes the answer.
    /// </summary>
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? cookie = null, string? bearer = null, object? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", $"{CookieName}={cookie}");
            request.Headers.Add("Sec-Fetch-Site", "same-origin");
        }
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (json is not null) request.Content = JsonContent.Create(json);
        return SendAndDisposeRequestAsync(request);
    }

    /// <summary>A session login (no hybrid exchange): the session cookie's value.</summary>
    public async Task<string> LoginSessionAsync(string user, string password = Password)
    {
        using var login = await _http.PostAsJsonAsync("/auth/login", new { username = user, password, mode = "session" });
        if (login.StatusCode != HttpStatusCode.NoContent)
            throw new InvalidOperationException($"session login {user}: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync()}");
        return SessionCookieOf(login) ?? throw new InvalidOperationException($"session login {user}: no {CookieName} cookie.");
    }

    /// <summary>A jwt login: the access and refresh tokens.</summary>
    public async Task<TokenPair> LoginJwtAsync(string user, string password = Password)
    {
        using var login = await _http.PostAsJsonAsync("/auth/login", new { username = user, password, mode = "jwt" });
        if (login.StatusCode != HttpStatusCode.OK)
            throw new InvalidOperationException($"jwt login {user}: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync()}");
        return await TokenPair.ReadAsync(login);
    }

    /// <summary>The value of the <c>__Host-bouncer</c> cookie an answer sets, if any.</summary>
    public static string? SessionCookieOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var setCookies)
            ? setCookies.Select(c => c.Split(';')[0]).LastOrDefault(c => c.StartsWith(CookieName + "=", StringComparison.Ordinal))?[(CookieName.Length + 1)..]
            : null;

    /// <summary>The <c>reason</c> member of a problem+json answer, or null.</summary>
    public static async Task<string?> ReasonOfAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("reason", out var r) ? r.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task<HttpResponseMessage> SendAndDisposeRequestAsync(HttpRequestMessage request)
    {
        using (request) return await _http.SendAsync(request);
    }

    /// <summary>GET /api/me with one credential: the status code.</summary>
    public async Task<HttpStatusCode> MeAsync(Credential credential)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
        if (credential.Cookie is not null) request.Headers.Add("Cookie", $"{CookieName}={credential.Cookie}");
        if (credential.Token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential.Token);
        using var response = await _http.SendAsync(request);
        return response.StatusCode;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        _output.Enqueue(line);
        while (_output.Count > 40) _output.TryDequeue(out _);
    }

    private async Task WaitForHealthAsync()
    {
        for (var i = 0; i < 300; i++)
        {
            if (_process.HasExited) throw new InvalidOperationException($"The Bouncer server exited at start ({_process.ExitCode}):\n{OutputTail}");
            try
            {
                using var response = await _http.GetAsync("/healthz");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"The Bouncer server did not answer /healthz within 30 s:\n{OutputTail}");
    }

    private static string? JwtClaim(string jwt, string name)
    {
        var payload = jwt.Split('.')[1];
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(payload)));
        return doc.RootElement.TryGetProperty(name, out var value) ? value.GetString() : null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One way of presenting a session to the server: its cookie, or its hybrid token.</summary>
public sealed record Credential(string Name, string? Cookie, string? Token)
{
    public override string ToString() => Name;
}

/// <summary>A logged-in session: its public handle and its two credentials.</summary>
public sealed record LoggedIn(string Handle, Credential Cookie, Credential Token);

/// <summary>An access token and its refresh token, as <c>POST /auth/login</c> (jwt) and <c>/auth/refresh</c> answer.</summary>
public sealed record TokenPair(string AccessToken, string RefreshToken)
{
    public static async Task<TokenPair> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"expected a token pair, got {(int)response.StatusCode}: {text}");
        using var doc = JsonDocument.Parse(text);
        return new TokenPair(doc.RootElement.GetProperty("access_token").GetString()!, doc.RootElement.GetProperty("refresh_token").GetString()!);
    }
}
