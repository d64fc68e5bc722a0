using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bouncer.AspNetCore;
using Xunit.Abstractions;

namespace Bouncer.Server.Tests;

/// <summary>
/// A seeded, bounded fuzz run: at least 20,000 requests built from real credentials (session cookies, access and
/// refresh tokens, an admin's) by mutation (bit flips, truncation, swapped JWS parts, edited and re-encoded headers and
/// payloads, alg none, huge, empty, unicode and control characters, duplicate and misnamed cookies, scheme games),
/// with malformed bodies and every method over every route. No answer is a 5xx, and no credential that is not
/// byte-identical to a real one is ever accepted: /api/me answers 200 only as the owner of a real credential the
/// request carried, and /admin never answers 2xx without one.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20261206;
    private const int Batches = 10;
    private const int PerBatch = 2_100;

    private sealed record Cred(string Value, string? Owner);

    private sealed record Spec(HttpMethod Method, string Path, List<(string Name, string Value)> Headers, Func<HttpContent?> Body, List<Cred> Creds);

    private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

    // Route templates and their real methods; {u} and {h} are filled per request.
    private static readonly (string Path, string Method, int Weight)[] Routes =
    [
        ("/api/me", "GET", 30),
        ("/auth/login", "POST", 6), ("/auth/register", "POST", 3), ("/auth/refresh", "POST", 6), ("/auth/logout", "POST", 2),
        ("/auth/logout-all", "POST", 1), ("/auth/token", "POST", 4), ("/auth/password", "POST", 3), ("/auth/sessions", "GET", 4),
        ("/auth/sessions/{h}", "DELETE", 3), ("/auth/revocations", "GET", 4),
        ("/admin/users", "GET", 3), ("/admin/users", "POST", 1), ("/admin/users/{u}", "GET", 2), ("/admin/users/{u}", "DELETE", 1),
        ("/admin/users/{u}/sessions", "GET", 2), ("/admin/users/{u}/sessions/{h}", "DELETE", 1), ("/admin/users/{u}/revoke", "POST", 1),
        ("/admin/users/{u}/suspend", "POST", 1), ("/admin/users/{u}/unsuspend", "POST", 1), ("/admin/users/{u}/unlock", "POST", 1),
        ("/admin/users/{u}/roles", "PUT", 1), ("/admin/audit", "GET", 2), ("/admin/keys/rotate", "POST", 1),
        ("/.well-known/jwks.json", "GET", 2), ("/.well-known/openid-configuration", "GET", 2), ("/healthz", "GET", 1), ("/metrics", "GET", 1),
        ("/demo/state", "GET", 1), ("/demo/me", "GET", 1), ("/demo/orders", "GET", 1), ("/nowhere", "GET", 1),
    ];

    [Fact]
    public async Task MutatedRequests_NeverA5xx_NeverAnAcceptedForgery()
    {
        await using var host = new BouncerHost("Development",
            ("Bouncer:BootstrapAdmin", "root"), ("Bouncer:RegistrationsPerMinute", "100000"), ("Bouncer:LoginFailuresPerMinute", "100000"),
            ("Logging:LogLevel:Default", "Error"));
        foreach (var name in new[] { "alice", "bob", "root" }) await host.RegisterAsync(name);

        var random = new Random(Seed);
        var real = new Dictionary<string, string>(StringComparer.Ordinal);
        var offenders = new List<string>();
        var forgeries = new List<string>();
        var sent = 0;
        var statuses = new int[600];
        var clock = Stopwatch.StartNew();
        for (var batch = 0; batch < Batches; batch++)
        {
            // Fresh real credentials per batch: the fuzz logs users out and rotates refresh tokens on the way.
            var alice = await host.LoginSessionAsync("alice", register: false);
            var rootSession = await host.LoginSessionAsync("root", register: false);
            var bob = await host.LoginJwtAsync("bob", register: false);
            var root = await host.LoginJwtAsync("root", register: false);
            var creds = new List<Cred>
            {
                new(alice.Cookie, "alice"), new(rootSession.Cookie, "root"), new(bob.AccessToken, "bob"), new(root.AccessToken, "root"),
                new(bob.RefreshToken!, "bob"), new(root.RefreshToken!, "root"),
            };
            foreach (var c in creds) real[c.Value] = c.Owner!;
            var handle = await HandleAsync(host, alice.Cookie);
            var csrf = alice.CsrfToken ?? "";

            var specs = Enumerable.Range(0, PerBatch).Select(_ => Build(random, creds, handle, csrf)).ToList();
            await Parallel.ForEachAsync(specs, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (spec, ct) =>
            {
                using var request = new HttpRequestMessage(spec.Method, spec.Path) { Content = spec.Body() };
                foreach (var (name, value) in spec.Headers) request.Headers.TryAddWithoutValidation(name, value);
                HttpResponseMessage response;
                try
                {
                    response = await host.Client().SendAsync(request, ct);
                }
                catch (Exception e) when (e is HttpRequestException or InvalidOperationException or FormatException)
                {
                    return; // the client refused to send it (a header value it will not write): not a server answer
                }
                using (response)
                {
                    Interlocked.Increment(ref sent);
                    var status = (int)response.StatusCode;
                    Interlocked.Increment(ref statuses[Math.Clamp(status, 0, 599)]);
                    // A memory store never goes down: any 5xx here, 503 included, is a defect. (The fuzz found one: an
                    // unparsable query value, a BadHttpRequestException, was taken for a store outage.)
                    if (status >= 500)
                    {
                        var line = $"{status} {Describe(spec)}: {await Body(response)}";
                        lock (offenders) { if (offenders.Count < 5) offenders.Add(line); }
                    }
                    var presented = spec.Creds.Where(c => real.TryGetValue(c.Value, out _)).Select(c => real[c.Value]).ToHashSet();
                    if (spec.Path.StartsWith("/api/me", StringComparison.Ordinal) && status == 200)
                    {
                        var sub = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("sub").GetString();
                        if (sub is null || !presented.Contains(sub))
                            lock (forgeries) { if (forgeries.Count < 5) forgeries.Add($"accepted as {sub}: {Describe(spec)}"); }
                    }
                    if (spec.Path.StartsWith("/admin", StringComparison.Ordinal) && status is >= 200 and < 300 && !presented.Contains("root"))
                        lock (forgeries) { if (forgeries.Count < 5) forgeries.Add($"admin {status}: {Describe(spec)}"); }
                }
            });
        }
        clock.Stop();
        output.WriteLine($"{sent} requests in {clock.Elapsed.TotalSeconds:F1} s; statuses: " +
            string.Join(", ", statuses.Select((n, s) => (n, s)).Where(p => p.n > 0).Select(p => $"{p.s}x{p.n}")));
        Assert.True(offenders.Count == 0, "5xx answers:\n" + string.Join("\n", offenders));
        Assert.True(forgeries.Count == 0, "forgeries accepted:\n" + string.Join("\n", forgeries));
        Assert.True(sent >= 20_000, $"only {sent} requests were sent");
    }

    private static async Task<string> HandleAsync(BouncerHost host, string cookie)
    {
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/auth/sessions", cookie));
        var text = await response.Content.ReadAsStringAsync();
        // The first 43-character base64url value in the list is a session handle.
        var match = System.Text.RegularExpressions.Regex.Match(text, "\"([A-Za-z0-9_-]{43})\"");
        return match.Success ? match.Groups[1].Value : "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    }

    private static async Task<string> Body(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length > 300 ? text[..300] : text;
    }

    private static string Describe(Spec spec)
    {
        var text = $"{spec.Method} {Short(spec.Path)} [{string.Join("; ", spec.Headers.Select(h => h.Name + ": " + Short(h.Value)))}]";
        if (spec.Body() is { } body) text += $" body ({body.Headers.ContentType}) " + Short(Encoding.UTF8.GetString(body.ReadAsByteArrayAsync().GetAwaiter().GetResult()));
        return text;
    }

    private static string Short(string s) => s.Length > 200 ? s[..200] + $"...({s.Length})" : s;

    private static T Pick<T>(Random r, IReadOnlyList<T> items) => items[r.Next(items.Count)];

    private static Spec Build(Random r, List<Cred> creds, string handle, string csrf)
    {
        var total = Routes.Sum(x => x.Weight);
        var roll = r.Next(total);
        var route = Routes.First(x => (roll -= x.Weight) < 0);
        var method = r.Next(2) == 0 ? route.Method : Pick(r, Methods);
        var path = route.Path
            .Replace("{u}", Pick(r, ["victim", "nobody", "x", "%00", "..", "ünï", new string('u', 300), "alice%2Fbob"]), StringComparison.Ordinal)
            .Replace("{h}", r.Next(3) == 0 ? handle : Uri.EscapeDataString(Mutate(r, handle, creds)), StringComparison.Ordinal);
        if (path.StartsWith("/auth/revocations", StringComparison.Ordinal))
            path += "?after=" + Pick(r, ["0", "-1", "999999999999999999999", "abc", "", "1e3"]) + "&wait=0" + Pick(r, ["", "&heartbeat=1", "&wait=5", "&after=1"]).Replace("&wait=5", "&wait=0", StringComparison.Ordinal);
        else if (r.Next(10) == 0)
            path += "?" + Pick(r, ["access_token", "token", "refresh_token", "x"]) + "=" + Uri.EscapeDataString(Mutate(r, Pick(r, creds).Value, creds));

        var headers = new List<(string, string)>();
        var carried = new List<Cred>();
        var shape = r.Next(10);
        if (shape < 5)
        {
            var cred = Pick(r, creds);
            var value = r.Next(8) == 0 ? cred.Value : Mutate(r, cred.Value, creds);
            carried.Add(new Cred(value, null));
            var prefix = Pick(r, ["Bearer ", "Bearer ", "Bearer ", "bearer ", "BEARER ", "Bearer  ", "Bearer\t", "Bearer", "Basic ", "Token ", "", "Bearer , Bearer "]);
            headers.Add(("Authorization", prefix + value + (r.Next(20) == 0 ? " " + value : "")));
        }
        if (shape is >= 3 and < 8)
        {
            var cred = Pick(r, creds);
            var value = r.Next(8) == 0 ? cred.Value : Mutate(r, cred.Value, creds);
            carried.Add(new Cred(value, null));
            var name = Pick(r, [BouncerDefaults.SessionCookieName, BouncerDefaults.SessionCookieName, BouncerDefaults.SessionCookieName, BouncerDefaults.RefreshCookieName, "__host-bouncer", "__Host-Bouncer", "bouncer", "__Host-bouncer ", ""]);
            var cookie = $"{name}={value}";
            if (r.Next(6) == 0)
            {
                var other = Pick(r, creds);
                carried.Add(other);
                cookie = r.Next(2) == 0 ? $"{cookie}; {BouncerDefaults.SessionCookieName}={other.Value}" : $"{BouncerDefaults.SessionCookieName}={other.Value}; {cookie}";
            }
            headers.Add(("Cookie", cookie));
        }
        if (r.Next(4) == 0) headers.Add(("X-CSRF-Token", r.Next(2) == 0 ? csrf : Mutate(r, csrf, creds)));
        if (r.Next(6) == 0) headers.Add(("Origin", Pick(r, ["https://localhost", "https://evil.example", "null", ""])));
        if (r.Next(10) == 0) headers.Add(("X-Bouncer-Feed-Key", Mutate(r, "feed-key-value-xyz", creds)));
        // Which carried values are byte-identical to a real credential is decided at check time.
        foreach (var c in carried.ToList()) carried.Add(new Cred(c.Value.Trim(), null));
        var body = method is "GET" or "HEAD" && r.Next(4) != 0 ? null : BodyFor(r, route.Path, creds);
        return new Spec(new HttpMethod(method), path, headers, body ?? (() => null), carried);
    }

    // ---- credential mutations ----

    private const string B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private static string Mutate(Random r, string value, List<Cred> creds)
    {
        var jws = value.Split('.');
        switch (r.Next(jws.Length == 3 ? 16 : 9))
        {
            case 0: // flip one character to another base64url character
            {
                if (value.Length == 0) return "A";
                var chars = value.ToCharArray();
                var i = r.Next(chars.Length);
                var c = B64[r.Next(B64.Length)];
                chars[i] = c == chars[i] ? (c == 'A' ? 'B' : 'A') : c;
                return new string(chars);
            }
            case 1: return value.Length == 0 ? "" : value[..r.Next(value.Length)];
            case 2: return value + Pick(r, ["A", "=", "==", ".", "..", " ", "%20", "\t", B64[r.Next(64)].ToString()]);
            case 3: return Pick(r, ["", " ", new string('A', 8192), new string('.', 100), "ünïcødé😀" + value, value + "\u0001\u0002\u007f", "\u00a0" + value, value.ToUpperInvariant(), "null", "%00", "\u202e" + value]);
            case 4: // a bit flipped in the decoded bytes of one part
            {
                var parts = value.Split('.');
                var p = r.Next(parts.Length);
                var bytes = TryDecode(parts[p]);
                if (bytes is null || bytes.Length == 0) return value + "A";
                bytes[r.Next(bytes.Length)] ^= (byte)(1 << r.Next(8));
                parts[p] = System.Buffers.Text.Base64Url.EncodeToString(bytes);
                return string.Join('.', parts);
            }
            case 5: return string.Concat(value.Reverse());
            case 6: return value.Replace('-', '+').Replace('_', '/') + "=";
            case 7: return value + value;
            case 8: // another credential cut to this one's length
            {
                var other = Pick(r, creds).Value;
                return other[..Math.Min(value.Length, other.Length)];
            }
            // JWS-specific
            case 9: // swap one part with another token's
            {
                var other = creds.Select(c => c.Value.Split('.')).Where(o => o.Length == 3).ToList();
                if (other.Count == 0) return value;
                var o = Pick(r, other);
                var i = r.Next(3);
                jws[i] = o[i];
                return string.Join('.', jws);
            }
            case 10: return $"{EditHeader(r, jws[0])}.{jws[1]}.{jws[2]}";
            case 11: return $"{jws[0]}.{EditPayload(r, jws[1])}.{jws[2]}";
            case 12: return $"{Jwt.Segment("{\"alg\":\"none\",\"typ\":\"at+jwt\"}")}.{EditPayload(r, jws[1])}.{Pick(r, ["", jws[2]])}";
            case 13: return $"{EditHeader(r, jws[0])}.{EditPayload(r, jws[1])}.{Pick(r, ["", jws[2], "AAAA"])}";
            case 14: return $"{jws[0]}.{jws[1]}";
            default: return $"{jws[0]}.{jws[1]}.{jws[2]}.{jws[2]}";
        }
    }

    private static byte[]? TryDecode(string part)
    {
        try { return System.Buffers.Text.Base64Url.DecodeFromChars(part); }
        catch (FormatException) { return null; }
    }

    private static JsonObject? Decode(string part)
    {
        try { return TryDecode(part) is { } bytes ? JsonNode.Parse(bytes) as JsonObject : null; }
        catch (JsonException) { return null; }
    }

    private static string EditHeader(Random r, string part)
    {
        var header = Decode(part) ?? [];
        switch (r.Next(6))
        {
            case 0: header["alg"] = Pick(r, ["none", "None", "NONE", "HS256", "HS512", "RS256", "ES256", "PS256", "EdDSA", "", "RS256 "]); break;
            case 1: header["typ"] = Pick(r, ["JWT", "at+jwt", "", "jwt", "application/at+jwt"]); break;
            case 2: header["kid"] = Pick(r, ["", "0", "../../etc/passwd", new string('k', 5000), "' OR 1=1 --"]); break;
            case 3: header.Remove(Pick(r, ["alg", "kid", "typ"])); break;
            case 4: header["crit"] = new JsonArray("exp"); break;
            default: header["jku"] = "https://evil.example/jwks.json"; break;
        }
        return Jwt.Segment(header.ToJsonString());
    }

    private static string EditPayload(Random r, string part)
    {
        var payload = Decode(part) ?? [];
        switch (r.Next(6))
        {
            case 0: payload["sub"] = Pick(r, ["root", "alice", "bob", "", "victim"]); break;
            case 1: payload["roles"] = new JsonArray("admin"); break;
            case 2: payload["exp"] = 4_102_444_800; break;
            case 3: payload["aud"] = Pick(r, ["other", "", "bouncer "]); break;
            case 4: payload["sub"] = "root"; payload["roles"] = new JsonArray("admin"); break;
            default: payload.Remove(Pick(r, ["exp", "sub", "iss", "aud", "jti", "sid"])); break;
        }
        return Jwt.Segment(payload.ToJsonString());
    }

    // ---- bodies ----

    private static HttpContent Typed(HttpContent content, string mediaType)
    {
        content.Headers.Remove("Content-Type");
        content.Headers.TryAddWithoutValidation("Content-Type", mediaType);
        return content;
    }

    private static Func<HttpContent?>? BodyFor(Random r, string route, List<Cred> creds)
    {
        var cred = Pick(r, creds).Value;
        var mutated = Mutate(r, cred, creds);
        // Well-formed credentials (a password check each, ~30 ms) only rarely: at most a few hundred in the run.
        var wellFormedLogin = route is "/auth/login" or "/auth/register" or "/auth/password" && r.Next(40) == 0;
        string json = wellFormedLogin
            ? route == "/auth/password"
                ? JsonSerializer.Serialize(new { current_password = "wrong " + r.Next(), new_password = "another long password " + r.Next() })
                : JsonSerializer.Serialize(new { username = Pick(r, ["alice", "bob", "root", "ghost"]), password = "wrong password " + r.Next(), mode = Pick(r, ["session", "jwt"]) })
            : r.Next(14) switch
            {
                0 => "{\"username\":",
                1 => "}{",
                2 => "null",
                3 => "[" + new string('[', r.Next(64, 4000)) + new string(']', 10),
                4 => new string('{', 1) + string.Concat(Enumerable.Repeat("\"a\":{", r.Next(10, 300))) + "}",
                5 => "{\"username\":1,\"password\":true,\"mode\":[],\"refresh_token\":{}}",
                6 => "{\"refresh_token\":" + JsonSerializer.Serialize(mutated) + "}",
                7 => "{\"refresh_token\":" + JsonSerializer.Serialize(cred) + ",\"refresh_token\":null}",
                8 => "{\"username\":null,\"password\":null,\"mode\":null,\"audience\":null,\"sign_out_others\":\"yes\"}",
                9 => "{\"username\":\"" + new string('a', r.Next(1000, 70_000)) + "\"}",
                10 => "{\"audience\":" + JsonSerializer.Serialize(Pick(r, ["", "other", new string('x', 3000), "ünï\u0000"])) + "}",
                11 => "\"" + mutated + "\"",
                12 => "{\"new_password\":\"" + mutated + "\",\"current_password\":[1]}",
                _ => "",
            };
        var mediaType = Pick(r, ["text/plain", "application/xml", "application/json; charset=utf-7", "multipart/form-data"]);
        return r.Next(10) switch
        {
            0 => () => new FormUrlEncodedContent([new("refresh_token", mutated), new("username", "alice")]),
            1 => () => new ByteArrayContent([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) { Headers = { ContentType = new("application/json") } },
            2 => () => Typed(new StringContent(json, Encoding.UTF8), mediaType),
            _ => () => new StringContent(json, Encoding.UTF8, "application/json"),
        };
    }
}
