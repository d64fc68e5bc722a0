using Bouncer;
using Bouncer.Diagnostics;
using Bouncer.Sessions;
using System.Security.Claims;
using System.Security.Cryptography;
using Bouncer.AspNetCore;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Bouncer.Tokens;
using Bouncer.Users;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.TestHost;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

// One authentication setup per process; GET /bench/credential hands the load generator its header.
var mode = Arg("--mode") ?? "none";
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
// --inproc N: no sockets, N sequential requests through the in-memory test server, for bytes and time per request
// of the pipeline alone (what a profile of one setup against another compares; load and wrk add only noise there).
var inproc = Arg("--inproc") is { } n ? int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) : 0;
if (inproc > 0) builder.WebHost.UseTestServer();
else builder.WebHost.UseUrls(Arg("--urls") ?? "http://127.0.0.1:5100");

var hmacKey = RandomNumberGenerator.GetBytes(32);
var dpopClient = BenchDpop.ClientFor(mode);
using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
using var rsa = RSA.Create(2048);
SecurityKey bearerKey = mode switch
{
    "jwtbearer-es256" => new ECDsaSecurityKey(ecdsa) { KeyId = "bench" },
    "jwtbearer-rs256" => new RsaSecurityKey(rsa) { KeyId = "bench" },
    _ => new SymmetricSecurityKey(hmacKey) { KeyId = "bench" },
};
var bearerAlg = mode switch
{
    "jwtbearer-es256" => SecurityAlgorithms.EcdsaSha256,
    "jwtbearer-rs256" => SecurityAlgorithms.RsaSha256,
    _ => SecurityAlgorithms.HmacSha256,
};

switch (mode)
{
    case "none":
        break;
    case "cookie":
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
        builder.Services.AddAuthorization();
        break;
    case "noop-auth":
        // The floor of ASP.NET Core's authentication + authorization pipeline: a handler that accepts
        // every request with a fixed principal, checking nothing.
        builder.Services.AddAuthentication("noop").AddScheme<AuthenticationSchemeOptions, NoopHandler>("noop", null);
        builder.Services.AddAuthorization();
        break;
    case "jwtbearer-hs256" or "jwtbearer-es256" or "jwtbearer-rs256":
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = "bench", ValidAudience = "bench", IssuerSigningKey = bearerKey, ValidAlgorithms = [bearerAlg],
            };
        });
        builder.Services.AddAuthorization();
        break;
    default:
        var redis = Arg("--redis");
        builder.Services.AddBouncer(o =>
        {
            o.Mode = BouncerMode.Hybrid;
            o.SigningAlgorithm = mode switch
            {
                "bouncer-jwt-hs256" => JwsAlgorithm.HS256,
                // RS256 is the engine's default: its row, the DPoP rows and their plain-bearer baseline use it; the session
                // modes keep ES256 (their requests verify no token).
                "bouncer-jwt-rs256" or "bouncer-dpop-es256" or "bouncer-dpop-eddsa" => JwsAlgorithm.RS256,
                _ => JwsAlgorithm.ES256,
            };
            // The proofs' htu names the address the load generator calls.
            o.PublicOrigin = (Arg("--urls") ?? "http://127.0.0.1:5100").TrimEnd('/');
            // The replay cache holds window x rate jtis (RFC 9449 11.1): sized for this bench's rate, as a deployment
            // at that rate would be (the default, 2000 a second, would answer 503 dpop_replay_cache_full here).
            o.Dpop.MaxProofsPerSecond = 50_000;
            if (mode == "bouncer-session-redis-nocache") o.NearCache = null;
            o.LoginFailuresPerMinute = 1000;
            // A networked store must not hold the signing keys in plain text: a fresh key per run is enough here.
            o.KeyEncryption.Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        }).UseStores(_ => mode switch
        {
            "bouncer-session-sqlite" => FromSqlite(Path.Combine(Path.GetTempPath(), $"bouncer-bench-{Environment.ProcessId}.db")),
            "bouncer-session-redis" or "bouncer-session-redis-nocache" =>
                new BouncerStores(new RedisSessionStore(redis ?? throw new InvalidOperationException("--redis host:port needed")),
                    new MemoryRefreshTokenStore(), new MemoryUserStore(), new MemorySecretStore(), new InProcessRevocationChannel(), new MemoryAuditStore(), "redis sessions, memory rest"),
            _ => BouncerStores.InMemory(),
        });
        break;
}

var app = builder.Build();
// Bytes allocated by the whole process so far: the runner reads it before and after a load run, for bytes per request.
app.MapGet("/bench/allocated", () => GC.GetTotalAllocatedBytes(precise: true).ToString(System.Globalization.CultureInfo.InvariantCulture));
if (mode.StartsWith("bouncer-", StringComparison.Ordinal))
{
    app.UseBouncer();
    app.MapBouncerEndpoints();
    // The host's own resource, as the server maps it.
    app.MapGet("/api/me", (ClaimsPrincipal user) => Results.Json(new { sub = user.FindFirst("sub")?.Value, via = user.FindFirst(BouncerClaims.Via)?.Value })).RequireAuthorization();
    app.MapGet("/bench/credential", async (HttpContext ctx) =>
    {
        var services = ctx.RequestServices;
        await services.GetRequiredService<UserService>().RegisterAsync("bench", "bench-password", "", ctx.RequestAborted);
        if (mode.StartsWith("bouncer-session", StringComparison.Ordinal))
        {
            var (_, id) = await services.GetRequiredService<SessionManager>().CreateAsync("bench", "{\"roles\":\"\"}", "wrk", ctx.RequestAborted);
            return $"Cookie: {BouncerDefaults.SessionCookieName}={id}";
        }
        var grant = (await services.GetRequiredService<RefreshTokenService>().IssueAsync("bench", null, ctx.RequestAborted)).Access!;
        var token = services.GetRequiredService<BouncerTokens>().Signer.Issue(new TokenRequest
        {
            Subject = grant.Subject, SessionId = grant.Sid, JwtId = grant.Jti, Lifetime = TimeSpan.FromMinutes(10),
            ConfirmationKeyThumbprint = dpopClient?.Thumbprint,
        });
        return $"Authorization: {(dpopClient is null ? "Bearer" : "DPoP")} {token}";
    });
    // bench/run-dpop-bench.sh: fresh proofs for the token the credential carries, written to a file the script reads.
    app.MapGet("/bench/dpop-proofs", async (string token, int count, HttpContext ctx) =>
        await BenchDpop.WriteProofsAsync(dpopClient, $"{ctx.Request.Scheme}://{ctx.Request.Host}/api/me", token, count, ctx.RequestAborted));
}
else
{
    if (mode != "none")
    {
        app.UseAuthentication();
        app.UseAuthorization();
    }
    var me = app.MapGet("/api/me", (ClaimsPrincipal user) => Results.Json(new { sub = user.FindFirst("sub")?.Value ?? user.Identity?.Name ?? "anonymous", via = mode }));
    if (mode != "none") me.RequireAuthorization();
    app.MapGet("/bench/credential", async (HttpContext ctx) =>
    {
        switch (mode)
        {
            case "cookie":
                var principal = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "bench"), new Claim(ClaimTypes.Name, "bench")], CookieAuthenticationDefaults.AuthenticationScheme));
                await ctx.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal);
                var setCookie = ctx.Response.Headers.SetCookie.ToString();
                return "Cookie: " + setCookie[..setCookie.IndexOf(';')];
            case "none" or "noop-auth":
                return "X-None: 1";
            default:
                var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
                {
                    Issuer = "bench", Audience = "bench", Expires = DateTime.UtcNow.AddMinutes(10),
                    Claims = new Dictionary<string, object> { ["sub"] = "bench", ["jti"] = Guid.NewGuid().ToString("N"), ["sid"] = "s1" },
                    SigningCredentials = new SigningCredentials(bearerKey, bearerAlg),
                });
                return "Authorization: Bearer " + token;
        }
    });
}
if (inproc > 0)
{
    await app.StartAsync();
    var server = app.GetTestServer();
    var client = server.CreateClient();
    var header = await client.GetStringAsync("/bench/credential");
    var (name, value) = (header[..header.IndexOf(':')], header[(header.IndexOf(':') + 1)..].Trim());
    async Task<long> Batch(int count)
    {
        for (int i = 0; i < count; i++)
        {
            var ctx = await server.SendAsync(c => { c.Request.Method = "GET"; c.Request.Path = "/api/me"; c.Request.Headers[name] = value; });
            if (ctx.Response.StatusCode != 200) throw new InvalidOperationException($"/api/me answered {ctx.Response.StatusCode}");
        }
        return count;
    }
    await Batch(Math.Max(inproc, 20_000)); // warm-up: JIT tiers, caches
    var best = double.MaxValue;
    long bytes = 0, requests = 0;
    for (int r = 0; r < 5; r++)
    {
        long a0 = GC.GetTotalAllocatedBytes(precise: true), t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        requests += await Batch(inproc);
        best = Math.Min(best, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds / inproc);
        bytes += GC.GetTotalAllocatedBytes(precise: true) - a0;
    }
    Console.WriteLine($"{mode}\tbest {best:F2} us/request\t{bytes / requests} bytes/request");
    await app.StopAsync();
    return;
}
app.Run();

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static BouncerStores FromSqlite(string path)
{
    var s = SqliteBouncerStores.Open(path);
    return new BouncerStores(s.Sessions, s.RefreshTokens, s.Users, s.Secrets, s.Revocations, s.Audit, "sqlite " + path, s);
}

sealed class NoopHandler(Microsoft.Extensions.Options.IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, System.Text.Encodings.Web.UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var identity = new ClaimsIdentity([new Claim("sub", "bench")], "noop");
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), "noop")));
    }
}
