using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Bouncer.AspNetCore;

namespace Bouncer.Server.Tests;

/// <summary>
/// Credentials never reach a log line: real passwords, session ids, CSRF tokens, access and refresh tokens, the feed
/// key and the metrics password are sent in every place a client could put them (query strings, headers, cookies,
/// JSON and form bodies, paths), on success and failure paths, and no captured message, state value, scope or
/// exception text holds one of them or a piece of one of 16 characters or more.
/// </summary>
public sealed class NoSecretsInLogsTests
{
    /// <summary>The log levels a run uses, on top of the server's own defaults.</summary>
    public static TheoryData<string> Levels() => ["default", "trace"];

    private static (string, string?)[] LevelSettings(string levels) => levels switch
    {
        // The server as shipped: Microsoft.AspNetCore at Warning, everything else (Bouncer.*, Bouncer.Audit) Information.
        "default" => [],
        // Trace for every category, Bouncer.* and the framework's included, except the framework's request-line
        // categories, which write the URL the client sent: hosting (Request starting GET ...?refresh_token=...: the URL
        // with its query, at Information), routing and static files (the request path, at Debug). The server keeps
        // all of Microsoft.AspNetCore at Warning by default; turning these on is an operator's choice to log URLs.
        "trace" =>
        [
            ("Logging:LogLevel:Default", "Trace"),
            ("Logging:LogLevel:Bouncer", "Trace"),
            ("Logging:LogLevel:Microsoft", "Trace"),
            ("Logging:LogLevel:Microsoft.AspNetCore", "Trace"),
            ("Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics", "Warning"),
            ("Logging:LogLevel:Microsoft.AspNetCore.Routing", "Warning"),
            ("Logging:LogLevel:Microsoft.AspNetCore.StaticFiles", "Warning"),
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(levels)),
    };

    private static string Random(string prefix) => prefix + Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();

    [Theory]
    [MemberData(nameof(Levels))]
    public async Task Credentials_SentEverywhere_NeverReachALogLine(string levels)
    {
        var capture = new LogCapture();
        var feedKey = Random("feedkey-");
        var metricsPassword = Random("metrics-");
        var settings = new List<(string, string?)>
        {
            ("Bouncer:BootstrapAdmin", "root"),
            ("Bouncer:RevocationFeedKey", feedKey),
            ("Bouncer:MetricsPassword", metricsPassword),
            ("Bouncer:RegistrationsPerMinute", "1000"),
            ("Bouncer:LoginFailuresPerMinute", "1000"),
        };
        settings.AddRange(LevelSettings(levels));
        var secrets = new List<string> { feedKey, metricsPassword };
        var clientPaths = new HashSet<string>(StringComparer.Ordinal);
        var host = new BouncerHost("Development", [.. settings]) { LogSink = capture };
        await using (host)
        {
            var alicePassword = Random("alice-pw-");
            var bobPassword = Random("bob-pw-");
            var rootPassword = Random("root-pw-");
            var newPassword = Random("alice-new-");
            secrets.AddRange([alicePassword, bobPassword, rootPassword, newPassword]);

            // Registration, JSON and form; a password typed into the name field.
            await host.RegisterAsync("alice", alicePassword);
            await host.RegisterAsync("root", rootPassword);
            await Send(host, HttpMethod.Post, "/auth/register", content: Form(("username", "bob"), ("password", bobPassword)));
            await host.RegisterAsync("bob", bobPassword);
            await Send(host, HttpMethod.Post, "/auth/register", content: Json(new { username = "carol", password = alicePassword + "\u0000" }));

            // Logins: success in both modes, wrong passwords, the password as the name, form bodies, query strings.
            var alice = await host.LoginSessionAsync("alice", alicePassword, register: false);
            var bob = await host.LoginJwtAsync("bob", bobPassword, register: false);
            var root = await host.LoginJwtAsync("root", rootPassword, register: false);
            var rootSession = await host.LoginSessionAsync("root", rootPassword, register: false);
            Add(secrets, alice.Cookie, alice.CsrfToken, rootSession.Cookie, rootSession.CsrfToken);
            Add(secrets, bob.AccessToken, bob.RefreshToken, root.AccessToken, root.RefreshToken);
            await Send(host, HttpMethod.Post, "/auth/login", content: Json(new { username = "alice", password = bobPassword }));
            await Send(host, HttpMethod.Post, "/auth/login", content: Json(new { username = alicePassword, password = alicePassword }));
            await Send(host, HttpMethod.Post, "/auth/login", content: Json(new { username = "nobody", password = rootPassword, mode = "jwt" }));
            await Send(host, HttpMethod.Post, "/auth/login", content: Form(("username", "alice"), ("password", alicePassword)));
            await Send(host, HttpMethod.Post, $"/auth/login?username=alice&password={alicePassword}", content: Json(new { username = "alice", password = alicePassword, mode = "jwt" }));
            await Send(host, HttpMethod.Post, "/auth/login", content: Json(new { username = "alice", password = alicePassword, mode = rootPassword }));
            await Send(host, HttpMethod.Post, "/auth/login", content: Json(new { username = "alice", password = alicePassword, mode = "jwt", transport = rootPassword }));
            await Send(host, HttpMethod.Post, "/auth/login", content: Raw("{\"username\":\"alice\",\"password\":\"" + alicePassword + "\",}"));

            // Every place a credential can travel, on every route family.
            string[] paths =
            [
                "/api/me", "/auth/sessions", "/auth/token", "/auth/refresh", "/auth/password", "/auth/revocations?after=0&wait=0",
                "/admin/users", "/admin/audit", "/admin/users/alice/sessions", "/.well-known/jwks.json", "/metrics", "/healthz", "/demo/state",
            ];
            var tokens = new[] { bob.AccessToken, root.AccessToken, bob.RefreshToken!, root.RefreshToken!, alice.Cookie, rootSession.Cookie, feedKey };
            foreach (var path in paths)
            {
                var method = path is "/auth/token" or "/auth/refresh" or "/auth/password" ? HttpMethod.Post : HttpMethod.Get;
                var join = path.Contains('?') ? '&' : '?';
                foreach (var token in tokens)
                {
                    foreach (var name in new[] { "access_token", "refresh_token", "token", "password", "session", "key" })
                        await Send(host, method, $"{path}{join}{name}={Uri.EscapeDataString(token)}");
                    await Send(host, method, path, ("Authorization", "Bearer " + token));
                    await Send(host, method, path, ("Authorization", "bearer " + token + "x"));
                    await Send(host, method, path, ("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:" + token))));
                    await Send(host, method, path, ("Cookie", $"{BouncerDefaults.SessionCookieName}={token}"));
                    await Send(host, method, path, ("Cookie", $"{BouncerDefaults.SessionCookieName}={token}; {BouncerDefaults.SessionCookieName}={alice.Cookie}"));
                    await Send(host, method, path, ("Cookie", $"{BouncerDefaults.RefreshCookieName}={token}"));
                    await Send(host, method, path, ("Cookie", $"{token}={token}"));
                    await Send(host, method, path, ("X-Bouncer-Feed-Key", token));
                    await Send(host, method, path, ("X-Api-Key", token), ("X-CSRF-Token", token), ("X-Forwarded-For", token), ("User-Agent", token), ("Referer", "https://localhost/?t=" + token));
                }
                await Send(host, method, path, ("Authorization", "Bearer " + root.AccessToken), ("Cookie", $"{BouncerDefaults.SessionCookieName}={rootSession.Cookie}"), ("X-Bouncer-Feed-Key", feedKey));
                await Send(host, method, path, ("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("metrics:" + metricsPassword))));
                await Send(host, method, path, ("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:" + alicePassword))));
            }

            // Credentials as path segments (no route takes one there: /auth/sessions/{id} takes the public handle).
            foreach (var token in tokens.Append(alicePassword))
            {
                var segment = Uri.EscapeDataString(token);
                clientPaths.UnionWith(["/auth/sessions/" + segment, "/admin/users/" + segment, "/admin/users/alice/sessions/" + segment, "/" + segment]);
                await Send(host, HttpMethod.Delete, "/auth/sessions/" + segment, ("Cookie", $"{BouncerDefaults.SessionCookieName}={alice.Cookie}"));
                await Send(host, HttpMethod.Get, "/admin/users/" + segment, ("Authorization", "Bearer " + root.AccessToken));
                await Send(host, HttpMethod.Delete, "/admin/users/alice/sessions/" + segment, ("Authorization", "Bearer " + root.AccessToken));
                await Send(host, HttpMethod.Get, "/" + segment);
            }

            // Refresh: JSON and form bodies, cookie, rotation (success), replay of a used token (reuse detection).
            var refreshed = await Refresh(host, Json(new { refresh_token = bob.RefreshToken }));
            Add(secrets, refreshed?.AccessToken, refreshed?.RefreshToken);
            await Send(host, HttpMethod.Post, "/auth/refresh", content: Form(("refresh_token", refreshed!.RefreshToken!)));
            await Send(host, HttpMethod.Post, "/auth/refresh", content: Raw("{\"refresh_token\":\"" + refreshed.RefreshToken + "\""));
            await Send(host, HttpMethod.Post, "/auth/refresh", content: Json(new { refresh_token = refreshed.RefreshToken + "A" }));
            var again = await Refresh(host, Json(new { refresh_token = refreshed.RefreshToken }));
            Add(secrets, again?.AccessToken, again?.RefreshToken);
            await Send(host, HttpMethod.Post, "/auth/refresh", content: Json(new { refresh_token = bob.RefreshToken }));
            await Send(host, HttpMethod.Post, "/auth/refresh", content: Json(new { refresh_token = refreshed.RefreshToken }));
            var cookieLogin = await Send(host, HttpMethod.Post, "/auth/login", content: Json(new { username = "root", password = rootPassword, mode = "jwt", transport = "cookie" }));
            var refreshCookie = cookieLogin.Cookies.FirstOrDefault(c => c.Name == BouncerDefaults.RefreshCookieName)?.Value;
            Add(secrets, refreshCookie, cookieLogin.Body);
            if (refreshCookie is not null)
            {
                var viaCookie = await Send(host, HttpMethod.Post, "/auth/refresh", ("Cookie", $"{BouncerDefaults.RefreshCookieName}={refreshCookie}"));
                Add(secrets, viaCookie.Cookies.Select(c => c.Value).ToArray());
                await Send(host, HttpMethod.Post, "/auth/refresh", ("Cookie", $"{BouncerDefaults.RefreshCookieName}={refreshCookie}"));
            }

            // Token exchange with the session; the exchanged token used.
            var exchanged = await Send(host, HttpMethod.Post, "/auth/token", ("Cookie", $"{BouncerDefaults.SessionCookieName}={alice.Cookie}"), ("X-CSRF-Token", alice.CsrfToken ?? ""));
            var exchangedToken = exchanged.Status == HttpStatusCode.OK ? System.Text.Json.JsonDocument.Parse(exchanged.Body).RootElement.GetProperty("access_token").GetString() : null;
            Add(secrets, exchangedToken);
            if (exchangedToken is not null) await Send(host, HttpMethod.Get, "/api/me", ("Authorization", "Bearer " + exchangedToken));

            // Password change: wrong current password, then the right one, in JSON and form bodies.
            var sessionHeaders = new[] { ("Cookie", $"{BouncerDefaults.SessionCookieName}={alice.Cookie}"), ("X-CSRF-Token", alice.CsrfToken ?? "") };
            await Send(host, HttpMethod.Post, "/auth/password", sessionHeaders, Json(new { current_password = bobPassword, new_password = newPassword }));
            await Send(host, HttpMethod.Post, "/auth/password", sessionHeaders, Json(new { current_password = alicePassword, new_password = "short" }));
            await Send(host, HttpMethod.Post, "/auth/password", sessionHeaders, Form(("current_password", alicePassword), ("new_password", newPassword)));
            var changed = await Send(host, HttpMethod.Post, "/auth/password", sessionHeaders, Json(new { current_password = alicePassword, new_password = newPassword, sign_out_others = true }));
            Add(secrets, changed.Cookies.Select(c => c.Value).ToArray());
            Add(secrets, changed.Headers.Where(h => h.Key == "X-CSRF-Token").SelectMany(h => h.Value).ToArray());

            // Admin actions that name sessions and families in the audit trail; logouts.
            await Send(host, HttpMethod.Post, "/admin/users/bob/revoke", ("Authorization", "Bearer " + root.AccessToken));
            await Send(host, HttpMethod.Post, "/admin/keys/rotate", ("Authorization", "Bearer " + root.AccessToken));
            await Send(host, HttpMethod.Post, "/auth/logout", ("Cookie", $"{BouncerDefaults.SessionCookieName}={rootSession.Cookie}"), ("X-CSRF-Token", rootSession.CsrfToken ?? ""));
            await Send(host, HttpMethod.Post, "/auth/logout-all", ("Authorization", "Bearer " + root.AccessToken));
            await Send(host, HttpMethod.Post, "/auth/logout", ("Authorization", "Bearer " + root.AccessToken));
            await Send(host, HttpMethod.Get, "/api/me", ("Cookie", $"{BouncerDefaults.SessionCookieName}={rootSession.Cookie}"));
            await Send(host, HttpMethod.Get, "/api/me", ("Authorization", "Bearer " + root.AccessToken));
        }

        var needles = Needles(secrets);
        var leaks = capture.Entries
            .Select(entry => ClientPathsRemoved(entry, clientPaths))
            .Select(entry => (entry, needle: needles.FirstOrDefault(n => entry.Contains(n, StringComparison.Ordinal))))
            .Where(e => e.needle is not null)
            .Select(e => $"{e.needle} in: {e.entry}")
            .Take(20)
            .ToList();
        Assert.True(capture.Entries.Count > 0, "nothing was captured");
        Assert.True(leaks.Count == 0, $"{levels}: {capture.Entries.Count} entries, secrets in:\n" + string.Join("\n", leaks));
    }

    /// <summary>
    /// The hosting scope of each request names its path (RequestPath:/...), and a provider that writes scopes writes it
    /// with every line of the request. A path the test itself built out of a credential is the client's own disclosure
    /// (no route takes a credential in its path), like a URL typed into a request line: that one value is not
    /// checked. Every other piece of the entry is, the same request's messages, state and other scopes included.
    /// </summary>
    private static string ClientPathsRemoved(string entry, HashSet<string> clientPaths)
    {
        foreach (var path in clientPaths)
        {
            var decoded = Uri.UnescapeDataString(path);
            entry = entry.Replace("RequestPath:" + decoded + " ", "RequestPath:<client path> ", StringComparison.Ordinal)
                .Replace("{RequestPath=" + decoded + "}", "{RequestPath=<client path>}", StringComparison.Ordinal)
                .Replace("RequestPath:" + path + " ", "RequestPath:<client path> ", StringComparison.Ordinal)
                .Replace("{RequestPath=" + path + "}", "{RequestPath=<client path>}", StringComparison.Ordinal);
        }
        return entry;
    }

    /// <summary>Each secret, its dot-separated parts and its halves, wherever one is 16 characters or more.</summary>
    private static HashSet<string> Needles(IEnumerable<string> secrets)
    {
        var needles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var secret in secrets)
        {
            foreach (var piece in secret.Split('.').Append(secret))
            {
                if (piece.Length >= 16) needles.Add(piece);
                if (piece.Length >= 32) { needles.Add(piece[..(piece.Length / 2)]); needles.Add(piece[(piece.Length / 2)..]); }
            }
        }
        return needles;
    }

    private static void Add(List<string> secrets, params string?[] values) => secrets.AddRange(values.Where(v => !string.IsNullOrEmpty(v))!);

    private static StringContent Json(object value) => new(System.Text.Json.JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");
    private static StringContent Raw(string text) => new(text, Encoding.UTF8, "application/json");
    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) => new(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));

    private static async Task<TokenPair?> Refresh(BouncerHost host, HttpContent body)
    {
        var answer = await Send(host, HttpMethod.Post, "/auth/refresh", content: body);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        using var doc = System.Text.Json.JsonDocument.Parse(answer.Body);
        var root = doc.RootElement;
        return new TokenPair(root.GetProperty("access_token").GetString()!, "Bearer", 0, root.GetProperty("refresh_token").GetString());
    }

    private sealed record Answer(HttpStatusCode Status, string Body, IReadOnlyList<SetCookie> Cookies, HttpResponseHeaders Headers);

    private static Task<Answer> Send(BouncerHost host, HttpMethod method, string path, params (string Name, string Value)[] headers) =>
        Send(host, method, path, headers, null);

    private static Task<Answer> Send(BouncerHost host, HttpMethod method, string path, HttpContent content) =>
        Send(host, method, path, [], content);

    private static async Task<Answer> Send(BouncerHost host, HttpMethod method, string path, (string Name, string Value)[] headers, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await host.Client().SendAsync(request);
        Assert.True((int)response.StatusCode < 500, $"{method} {path}: {(int)response.StatusCode}");
        var cookies = response.Headers.TryGetValues("Set-Cookie", out var values) ? values.Select(SetCookie.Parse).ToList() : [];
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(), cookies, response.Headers);
    }
}
