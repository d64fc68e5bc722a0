using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Bouncer.Bench;

/// <summary>
/// Revocation across running Bouncer servers under load, timed from the moment the announcing request is sent: three
/// server processes on one backend (started by <c>bench/run-propagation-bench.sh</c>), <c>wrk</c> keeping all three
/// busy on <c>GET /api/me</c>, and one user at a time logged out everywhere (<c>POST /auth/logout-all</c>) on one of
/// them while the other two are polled with that user's session cookie and access token until both refuse.
/// </summary>
/// <remarks>
/// Every user is registered, logged in (a session and a JWT family) and checked on all three servers before the load
/// starts, so the session sits in each server's near cache and the refusal has to travel by the push. The announcing
/// server rotates, so each server announces a third of the samples.
/// </remarks>
internal static class PropagationBench
{
    private const string Password = "correct horse battery staple";
    private const string CookieName = "__Host-bouncer";

    public static async Task<int> RunAsync(string[] args)
    {
        string? Arg(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        var servers = (Arg("--servers") ?? throw new ArgumentException("--servers URL,URL,URL is required")).Split(',');
        if (servers.Length < 2) throw new ArgumentException("--servers needs at least two servers");
        var label = Arg("--label") ?? "servers";
        var count = int.Parse(Arg("--count") ?? "200", CultureInfo.InvariantCulture);
        var connections = int.Parse(Arg("--load-connections") ?? "16", CultureInfo.InvariantCulture);
        var outPath = Arg("--out") ?? throw new ArgumentException("--out FILE is required (the row is appended)");

        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromSeconds(30) };
        var run = $"p{Environment.ProcessId}x{Random.Shared.Next(1000, 9999)}";

        // ---- setup, before the load: the users, their credentials, accepted everywhere ----
        var load = await LoginAsync(http, servers[0], $"{run}-load");
        var users = new User[count];
        var setup = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
        {
            var user = await LoginAsync(http, servers[i % servers.Length], $"{run}-u{i}");
            foreach (var server in servers)
            {
                if (await StatusAsync(http, server, user.Cookie, null) != HttpStatusCode.OK) throw new InvalidOperationException($"{server} refused a fresh cookie");
                if (await StatusAsync(http, server, null, user.Token) != HttpStatusCode.OK) throw new InvalidOperationException($"{server} refused a fresh token");
            }
            users[i] = user;
        });
        Console.WriteLine($"{label}: {count} users set up in {setup.Elapsed.TotalSeconds:0.0} s");

        // ---- the load: one wrk per server for as long as the samples take ----
        var wrks = servers.Select(s => StartWrk(s, load.Token!, connections)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(3));   // the load settles before the first sample
        var loadBefore = File.ReadAllText("/proc/loadavg").Split(' ')[0];

        var answered = new List<double>(count);
        var refused = new List<double>(count);
        var afterAnswer = new List<double>(count);
        var plain = new List<double>(count);
        var timeouts = 0;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var user = users[i];
                var announcer = servers[i % servers.Length];
                var others = servers.Where(s => s != announcer).ToArray();
                // The reference: one plain authenticated request to the same server under the same load.
                var plainStart = Stopwatch.GetTimestamp();
                if (await StatusAsync(http, announcer, null, user.Token) != HttpStatusCode.OK) throw new InvalidOperationException($"{announcer} refused a live token");
                plain.Add(Stopwatch.GetElapsedTime(plainStart).TotalMilliseconds);
                using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var start = Stopwatch.GetTimestamp();
                var logout = LogoutAllAsync(http, announcer, user.Token!);
                // Every other server, with each credential, until it answers 401.
                var polls = others.SelectMany(s => new[] { PollUntilRefusedAsync(http, s, user.Cookie, null, start, stop.Token), PollUntilRefusedAsync(http, s, null, user.Token, start, stop.Token) }).ToArray();
                var answerMs = await logout;
                double[] times;
                try { times = await Task.WhenAll(polls); }
                catch (OperationCanceledException) { timeouts++; continue; }
                var everywhere = times.Max();
                answered.Add(answerMs);
                refused.Add(everywhere);
                afterAnswer.Add(everywhere - answerMs);
                await Task.Delay(20);
            }
        }
        finally
        {
            // The load stops however the samples end (a failed sample throws).
            foreach (var wrk in wrks)
            {
                try { wrk.Kill(); } catch (InvalidOperationException) { }
                await wrk.WaitForExitAsync();
            }
        }
        var loadAfter = File.ReadAllText("/proc/loadavg").Split(' ')[0];

        string P(List<double> xs, double q) => xs.Count == 0 ? "-" : Percentile(xs, q).ToString("0.0", CultureInfo.InvariantCulture);
        var row = $"| {label} | {answered.Count} | {timeouts} | {P(plain, 0.5)} | {P(plain, 0.99)} | {P(answered, 0.5)} | {P(answered, 0.99)} | {P(refused, 0.5)} | {P(refused, 0.99)} | {P(refused, 1)} | {P(afterAnswer, 0.5)} | {P(afterAnswer, 0.99)} | {loadBefore} / {loadAfter} |";
        Console.WriteLine(row);
        if (!File.Exists(outPath))
            File.WriteAllText(outPath,
                "| backend | samples | timed out | plain GET /api/me p50 ms | p99 ms | logout-all answered p50 ms | answered p99 ms | refused everywhere p50 ms | p99 ms | max ms | refused after the answer p50 ms | p99 ms | load average (1 min) before / after |\n" +
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        File.AppendAllText(outPath, row + "\n");
        // A timed-out sample is left out of the percentiles (they would understate): the run fails instead.
        return timeouts == 0 ? 0 : 1;
    }

    private sealed record User(string Name, string Cookie, string? Token);

    private static Process StartWrk(string server, string token, int connections)
    {
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-t1", $"-c{connections}", "-d600s", "-H", $"Authorization: Bearer {token}", $"{server}/api/me" }) start.ArgumentList.Add(a);
        var p = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static async Task<User> LoginAsync(HttpClient http, string server, string name)
    {
        using (var register = await http.PostAsJsonAsync($"{server}/auth/register", new { username = name, password = Password }))
            if (register.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"register {name}: {(int)register.StatusCode} {await register.Content.ReadAsStringAsync()}");
        string cookie;
        using (var session = await http.PostAsJsonAsync($"{server}/auth/login", new { username = name, password = Password, mode = "session" }))
        {
            if (session.StatusCode != HttpStatusCode.NoContent) throw new InvalidOperationException($"session login {name}: {(int)session.StatusCode} {await session.Content.ReadAsStringAsync()}");
            cookie = session.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).First(c => c.StartsWith(CookieName + "=", StringComparison.Ordinal))[(CookieName.Length + 1)..];
        }
        using var jwt = await http.PostAsJsonAsync($"{server}/auth/login", new { username = name, password = Password, mode = "jwt" });
        if (!jwt.IsSuccessStatusCode) throw new InvalidOperationException($"jwt login {name}: {(int)jwt.StatusCode} {await jwt.Content.ReadAsStringAsync()}");
        using var body = JsonDocument.Parse(await jwt.Content.ReadAsStringAsync());
        return new User(name, cookie, body.RootElement.GetProperty("access_token").GetString());
    }

    private static HttpRequestMessage Me(string server, string? cookie, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"{server}/api/me");
        if (cookie is not null) request.Headers.Add("Cookie", $"{CookieName}={cookie}");
        if (token is not null) request.Headers.Add("Authorization", $"Bearer {token}");
        return request;
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, string server, string? cookie, string? token)
    {
        using var request = Me(server, cookie, token);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    // Milliseconds from the request's start to its answer (204 expected).
    private static async Task<double> LogoutAllAsync(HttpClient http, string server, string token)
    {
        var start = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{server}/auth/logout-all");
        request.Headers.Add("Authorization", $"Bearer {token}");
        using var response = await http.SendAsync(request);
        if (response.StatusCode != HttpStatusCode.NoContent) throw new InvalidOperationException($"logout-all on {server}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    // Milliseconds from start until an answer of 401 arrived: the first refusal this poller saw.
    private static async Task<double> PollUntilRefusedAsync(HttpClient http, string server, string? cookie, string? token, long start, CancellationToken ct)
    {
        while (true)
        {
            using var request = Me(server, cookie, token);
            using var response = await http.SendAsync(request, ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized) return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"{server}/api/me answered {(int)response.StatusCode}");
        }
    }

    private static double Percentile(List<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
