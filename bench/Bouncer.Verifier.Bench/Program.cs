// Downstream verifier benchmark: verify throughput in-process (core JwsVerifier vs the downstream's path, which adds
// the issuer pick and the in-memory revocation check, no network) and revocation propagation through the HTTP feed
// (admin revoke on the server until the downstream's RevocationSet has it). Writes bench/results/downstream.md.
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Bouncer.Revocation;
using Bouncer.Tokens;
using Bouncer.Verifier;
using Microsoft.Extensions.Options;

int revocations = args.Length > 0 ? int.Parse(args[0]) : 500;
var metadata = typeof(Marker).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value!);
var serverPath = metadata["ServerPath"];
var output = Path.GetFullPath(Path.Combine(metadata["RepoRoot"], "bench", "results", "downstream.md"));
const string Password = "correct horse battery staple";

var port = FreePort();
var baseUrl = $"http://127.0.0.1:{port}";
var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
foreach (var a in new[] { serverPath, "--urls", baseUrl, "--store", "memory", "--Bouncer:BootstrapAdmin", "admin", "--Logging:LogLevel:Default", "Warning" })
    start.ArgumentList.Add(a);
using var server = Process.Start(start)!;
server.OutputDataReceived += (_, _) => { };
server.ErrorDataReceived += (_, _) => { };
server.BeginOutputReadLine();
server.BeginErrorReadLine();
try
{
    using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
    await WaitForHealthAsync(http);
    await http.PostAsJsonAsync("/auth/register", new { username = "admin", password = Password });
    await http.PostAsJsonAsync("/auth/register", new { username = "reader", password = Password });
    var adminToken = await LoginAsync(http, "admin");
    var token = await LoginAsync(http, "reader");

    await using var downstream = new DownstreamVerifier(Options.Create(new BouncerVerifierOptions { Authority = baseUrl, Audience = "bouncer" }));
    await downstream.StartAsync(default);

    // The core verifier over the same JWKS: what a service would do with no revocation and no issuer choice.
    var core = new JwsVerifier(JwkSet.Parse(await http.GetStringAsync("/.well-known/jwks.json")),
        new VerifyOptions { Issuer = downstream.AuthorityIssuer!, Audience = "bouncer" });
    if (!core.Verify(token).IsValid || !(await downstream.VerifyAsync(token, default)).IsValid)
        throw new InvalidOperationException("the bench token does not verify");

    Action[] ops =
    [
        () => { if (!core.Verify(token).IsValid) throw new InvalidOperationException(); },
        () => { var r = core.Verify(token); if (!r.IsValid) throw new InvalidOperationException(); _ = r.ToClaims(); },
        () =>
        {
            var v = downstream.VerifyAsync(token, default);
            if (!v.IsCompletedSuccessfully || !v.Result.IsValid) throw new InvalidOperationException("the downstream path went async or refused");
        },
    ];
    // Rounds interleave the three paths so that JIT tiering and noise from other processes on this small machine
    // hit all of them alike; the median round is reported.
    foreach (var op in ops) Throughput(op, TimeSpan.FromSeconds(1));
    var rounds = ops.Select(_ => new List<double>()).ToArray();
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < ops.Length; i++) rounds[i].Add(Throughput(ops[i], TimeSpan.FromSeconds(1)));
    var medians = rounds.Select(r => r.Order().ElementAt(r.Count / 2)).ToArray();
    var (coreVerify, coreClaims, downstreamVerify) = (medians[0], medians[1], medians[2]);

    // Propagation: one admin revoke at a time, each for a fresh name, timed from just before the POST until the
    // listener has applied the entry (observers run right after RevocationSet.Apply).
    var listener = downstream.Revocations!;
    var pending = new System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource<long>>();
    listener.Observe(r =>
    {
        if (r.Kind == RevocationKind.User && pending.TryRemove(r.Subject, out var tcs)) tcs.TrySetResult(Stopwatch.GetTimestamp());
    });
    using var admin = new HttpClient { BaseAddress = new Uri(baseUrl) };
    admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
    var fromRequest = new List<double>(revocations);
    var fromResponse = new List<double>(revocations);
    for (int i = 0; i < revocations + 20; i++)
    {
        var name = $"bench{i}";
        var tcs = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending[name] = tcs;
        long sent = Stopwatch.GetTimestamp();
        using (var response = await admin.PostAsync($"/admin/users/{name}/revoke", null))
            if (response.StatusCode != HttpStatusCode.NoContent) throw new InvalidOperationException($"revoke answered {(int)response.StatusCode}");
        long answered = Stopwatch.GetTimestamp();
        long seen = await tcs.Task.WaitAsync(TimeSpan.FromSeconds(10));
        if (!listener.Set.IsRevoked(null, null, name, 0)) throw new InvalidOperationException("observed but not in the set");
        if (i < 20) continue; // warm-up: JIT and connection pools
        fromRequest.Add(Stopwatch.GetElapsedTime(sent, seen).TotalMilliseconds);
        fromResponse.Add(Stopwatch.GetElapsedTime(answered, seen).TotalMilliseconds);
    }

    var md = new StringBuilder();
    md.AppendLine("# Downstream verifier: throughput and revocation propagation");
    md.AppendLine();
    md.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by `dotnet run -c Release --project bench/Bouncer.Verifier.Bench -- {revocations}`");
    md.AppendLine($"on {Environment.ProcessorCount} cores, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}.");
    if (File.Exists("/proc/loadavg"))
        md.AppendLine($"Load average during the run: {File.ReadAllText("/proc/loadavg").Split(' ')[0]} (other builds shared the machine: treat the figures as rough).");
    using var tokenHeader = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.AsSpan(0, token.IndexOf('.'))));
    var alg = tokenHeader.RootElement.GetProperty("alg").GetString();
    md.AppendLine($"One Bouncer server (child process, memory store, {alg} keys) and one in-process DownstreamVerifier talking to it over loopback HTTP.");
    md.AppendLine();
    md.AppendLine($"## Verify throughput (one thread, same {alg} token, median of 5 interleaved 1 s rounds)");
    md.AppendLine();
    md.AppendLine("| path | ops/s | µs/op |");
    md.AppendLine("|---|---:|---:|");
    foreach (var (label, opsPerSecond) in new[]
    {
        ("core `JwsVerifier.Verify`", coreVerify),
        ("core `Verify` + `ToClaims`", coreClaims),
        ("downstream `VerifyAsync` (iss pick, verify, claims, revocation check)", downstreamVerify),
    })
        md.AppendLine($"| {label} | {opsPerSecond:N0} | {1e6 / opsPerSecond:F2} |");
    md.AppendLine();
    md.AppendLine("The downstream path makes no network call: it completes synchronously (checked on every iteration). Its");
    md.AppendLine("extra cost over the core verifier is reading `iss` to pick the issuer, copying the claims and the in-memory");
    md.AppendLine("revocation lookup; the signature check dominates all three rows. On this shared machine rounds");
    md.AppendLine("vary by 10-20%, so differences of that size between rows (even in the \"wrong\" order) are noise.");
    md.AppendLine();
    md.AppendLine($"## Revocation propagation ({revocations} admin revokes, sequential, after 20 warm-up)");
    md.AppendLine();
    md.AppendLine("| measured from | p50 ms | p90 ms | p99 ms | max ms |");
    md.AppendLine("|---|---:|---:|---:|---:|");
    md.AppendLine(Row("just before `POST /admin/users/{u}/revoke`", fromRequest));
    md.AppendLine(Row("the revoke's HTTP response", fromResponse));
    md.AppendLine();
    md.AppendLine("Until: the downstream's `RevocationSet` holds the entry (the listener's observer fires right after `Apply`).");
    md.AppendLine("Path: server publishes to its log, wakes the held long-poll (`GET /auth/revocations?wait=25`), the");
    md.AppendLine("downstream's `HttpRevocationChannel` parses the page and pushes to the `RevocationListener`. A negative or");
    md.AppendLine("zero \"from response\" figure means the push landed before the revoke's own response was read.");
    Directory.CreateDirectory(Path.GetDirectoryName(output)!);
    await File.WriteAllTextAsync(output, md.ToString());
    Console.Write(md);
    Console.WriteLine($"\nwritten to {output}");
}
finally
{
    if (!server.HasExited)
    {
        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
    }
}

static double Throughput(Action op, TimeSpan duration)
{
    var watch = Stopwatch.StartNew();
    long count = 0;
    while (watch.Elapsed < duration)
    {
        for (int i = 0; i < 500; i++) op();
        count += 500;
    }
    return count / watch.Elapsed.TotalSeconds;
}

static string Row(string label, List<double> samples)
{
    samples.Sort();
    double P(double q) => samples[Math.Min(samples.Count - 1, (int)Math.Ceiling(q * samples.Count) - 1)];
    return $"| {label} | {P(0.50):F2} | {P(0.90):F2} | {P(0.99):F2} | {samples[^1]:F2} |";
}

static async Task<string> LoginAsync(HttpClient http, string user)
{
    var response = await http.PostAsJsonAsync("/auth/login", new { username = user, password = "correct horse battery staple", mode = "jwt" });
    response.EnsureSuccessStatusCode();
    using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    return body.RootElement.GetProperty("access_token").GetString()!;
}

static async Task WaitForHealthAsync(HttpClient http)
{
    for (int i = 0; i < 300; i++)
    {
        try { if ((await http.GetAsync("/healthz")).IsSuccessStatusCode) return; }
        catch (HttpRequestException) { }
        await Task.Delay(100);
    }
    throw new TimeoutException("the Bouncer server did not start within 30 s");
}

static int FreePort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}

internal sealed class Marker;
