using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Tokens;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NSec.Cryptography;
using IncrementalHash = System.Security.Cryptography.IncrementalHash;

namespace Bouncer.Bench;

/// <summary>
/// Verify and issue throughput per algorithm: Bouncer, Microsoft.IdentityModel (JsonWebTokenHandler) and the raw
/// BCL/NSec primitive on the same bytes (signature check or signature only). A Stopwatch harness: every repeat runs
/// each contender for a fixed slice in rotating order (interleaved, so drift and noise hit all alike), and the table
/// reports the median with min and max over repeats.
/// </summary>
internal static class JwtBench
{
    private const string Issuer = "https://id.example";
    private const string Audience = "api";

    private sealed record Contender(string Name, Func<bool> Op);

    private sealed record Row(string Alg, string Operation, Dictionary<string, double[]> Samples);

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int outAt = Array.IndexOf(args, "--out");
        string? outPath = outAt >= 0 && outAt + 1 < args.Length ? args[outAt + 1] : null;
        // Many short interleaved slices: on a shared 2-core machine the median of many is steadier than a few long runs.
        int repeats = quick ? 3 : 25;
        var slice = TimeSpan.FromMilliseconds(60);
        string loadBefore = LoadAverage();

        int algAt = Array.IndexOf(args, "--alg");
        var algs = algAt >= 0 && algAt + 1 < args.Length && JwsAlgorithms.TryParse(args[algAt + 1], out var only)
            ? [only] : Enum.GetValues<JwsAlgorithm>();
        var rows = new List<Row>();
        foreach (var alg in algs)
        {
            var setup = Setup.Create(alg);
            Check(setup);
            rows.Add(Measure(alg.Name(), "verify", setup.VerifyContenders(), repeats, slice));
            rows.Add(Measure(alg.Name(), "issue", setup.IssueContenders(), repeats, slice));
            Console.Error.WriteLine($"{alg.Name()} done");
        }

        string table = Render(rows, repeats, slice, loadBefore, LoadAverage());
        Console.WriteLine(table);
        if (outPath is not null) File.WriteAllText(outPath, table);
        return 0;
    }

    // Every contender must succeed on its input, or the numbers measure a failure path.
    private static void Check(Setup setup)
    {
        foreach (var c in setup.VerifyContenders().Concat(setup.IssueContenders()))
            if (!c.Op()) throw new InvalidOperationException($"{setup.Alg.Name()} {c.Name} failed its own input");
    }

    private static Row Measure(string alg, string operation, List<Contender> contenders, int repeats, TimeSpan slice)
    {
        var samples = contenders.ToDictionary(c => c.Name, _ => new double[repeats]);
        foreach (var c in contenders) RunFor(c.Op, TimeSpan.FromMilliseconds(100)); // warm-up: JIT tiers, caches, pools
        for (int r = 0; r < repeats; r++)
        {
            for (int i = 0; i < contenders.Count; i++)
            {
                var c = contenders[(i + r) % contenders.Count]; // rotate the order each repeat
                samples[c.Name][r] = RunFor(c.Op, slice);
            }
        }
        return new Row(alg, operation, samples);
    }

    // Ops per second of this thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID): on a machine shared with other
    // builds, time spent descheduled is not charged to whichever contender happened to be running.
    internal static double RunFor(Func<bool> op, TimeSpan duration)
    {
        long ops = 0;
        long limit = (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long start = Stopwatch.GetTimestamp();
        double cpuStart = ThreadCpuSeconds();
        long elapsed;
        do
        {
            for (int i = 0; i < 16; i++)
                if (op()) ops++;
            elapsed = Stopwatch.GetTimestamp() - start;
        } while (elapsed < limit);
        double cpu = ThreadCpuSeconds() - cpuStart;
        return ops / (UseCpuTime && cpu > 0 ? cpu : (double)elapsed / Stopwatch.Frequency);
    }

    private static readonly bool UseCpuTime = OperatingSystem.IsLinux() && ThreadCpuSeconds() > 0;

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private static double ThreadCpuSeconds()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        const int ClockThreadCpuTime = 3;
        return ClockGetTime(ClockThreadCpuTime, out var t) == 0 ? t.Seconds + t.Nanoseconds / 1e9 : 0;
    }

    internal static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    internal static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private static string Render(List<Row> rows, int repeats, TimeSpan slice, string loadBefore, string loadAfter)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# JWT benchmark: Bouncer vs Microsoft.IdentityModel vs raw primitive");
        sb.AppendLine();
        sb.AppendLine($"- Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, " +
                      $"{Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}");
        sb.AppendLine($"- Clock: {(UseCpuTime ? "ops per second of the benchmark thread's CPU time (CLOCK_THREAD_CPUTIME_ID)" : "wall clock")}.");
        sb.AppendLine($"- Harness: Stopwatch slices, {repeats} interleaved repeats of {slice.TotalMilliseconds:0} ms per contender (order rotated each repeat), " +
                      "single thread; ops/s median [min - max].");
        sb.AppendLine($"- Machine load average (1/5/15 min) before: {loadBefore}, after: {loadAfter}. The machine is shared with other builds, " +
                      "so min/max spread is wide; ratios use medians of interleaved slices, which keeps them comparable.");
        sb.AppendLine("- verify: Bouncer `JwsVerifier.Verify(bytes)` (full checks: header, alg pin, signature, exp/nbf/iat/iss/aud); " +
                      "IdentityModel `JsonWebTokenHandler.ValidateTokenAsync` (same checks); raw = the BCL/NSec signature check alone " +
                      "on the same signing input and signature (HS256: reused IncrementalHash + FixedTimeEquals).");
        sb.AppendLine("- issue: Bouncer `JwsIssuer.Issue`; IdentityModel `JsonWebTokenHandler.CreateToken`; raw = the signature alone over a same-size input.");
        sb.AppendLine("- IdentityModel 8.23.0 has no EdDSA: n/a.");
        sb.AppendLine();
        sb.AppendLine("- Ratios: median / median, and in brackets best slice / best slice (max / max), the least disturbed by the other load.");
        sb.AppendLine();
        sb.AppendLine("| alg | op | Bouncer ops/s | IdentityModel ops/s | raw primitive ops/s | Bouncer / IdentityModel | Bouncer / raw |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var row in rows)
        {
            string Cell(string name) => row.Samples.TryGetValue(name, out var s)
                ? $"{Median(s):N0} [{s.Min():N0} - {s.Max():N0}]" : "n/a";
            double bouncer = Median(row.Samples["Bouncer"]);
            double bouncerBest = row.Samples["Bouncer"].Max();
            string vsIm = row.Samples.TryGetValue("IdentityModel", out var im) ? $"{bouncer / Median(im):0.00}x [{bouncerBest / im.Max():0.00}x]" : "n/a";
            var raw = row.Samples["raw"];
            string vsRaw = $"{bouncer / Median(raw) * 100:0.0}% [{bouncerBest / raw.Max() * 100:0.0}%]";
            sb.AppendLine($"| {row.Alg} | {row.Operation} | {Cell("Bouncer")} | {Cell("IdentityModel")} | {Cell("raw")} | {vsIm} | {vsRaw} |");
        }
        sb.AppendLine();
        sb.AppendLine("## Targets");
        sb.AppendLine();
        foreach (var row in rows.Where(r => r.Operation == "verify"))
        {
            var b = row.Samples["Bouncer"];
            string line = row.Alg switch
            {
                "HS256" when row.Samples.TryGetValue("IdentityModel", out var im) =>
                    Target("HS256 verify >= 3x IdentityModel", Median(b) / Median(im), b.Max() / im.Max(), 3.0, "x"),
                "EdDSA" => Target("EdDSA verify >= 90% of raw", Median(b) / Median(row.Samples["raw"]), b.Max() / row.Samples["raw"].Max(), 0.90, "%"),
                _ => Target($"{row.Alg} verify >= 95% of raw", Median(b) / Median(row.Samples["raw"]), b.Max() / row.Samples["raw"].Max(), 0.95, "%"),
            };
            sb.AppendLine(line);
        }
        return sb.ToString();
    }

    private static string Target(string name, double median, double best, double goal, string unit)
    {
        string Format(double v) => unit == "%" ? $"{v * 100:0.0}%" : $"{v:0.00}x";
        string verdict = median >= goal && best >= goal ? "met" : median >= goal || best >= goal ? "met on one measure only" : "missed";
        return $"- {name}: median {Format(median)}, best slice {Format(best)}: {verdict}";
    }

    private sealed class Setup
    {
        public required JwsAlgorithm Alg { get; init; }
        public required JwsVerifier Verifier { get; init; }
        public required JwsIssuer BouncerIssuer { get; init; }
        public required byte[] TokenBytes { get; init; }
        public required string Token { get; init; }
        public required byte[] SigningInput { get; init; }
        public required byte[] Signature { get; init; }
        public required Func<byte[], byte[], bool> RawVerify { get; init; }
        public required Func<byte[], byte[], bool> RawSign { get; init; }
        public SecurityKey? ImKey { get; init; }

        public static Setup Create(JwsAlgorithm alg)
        {
            var key = SigningKey.Generate(alg, "bench-" + alg.Name());
            var jwk = key.ToJwk(includePrivate: true);
            var verifier = new JwsVerifier(JwkSet.Create([key]), new VerifyOptions { Issuer = Issuer, Audience = Audience });
            var issuer = new JwsIssuer(key, new IssueOptions { Issuer = Issuer, Audience = Audience });
            string token = issuer.Issue(new TokenRequest { Subject = "user-1234", SessionId = "sess-5678", Roles = ["user"], Scope = "read write" });
            int lastDot = token.LastIndexOf('.');
            byte[] input = Encoding.ASCII.GetBytes(token[..lastDot]);
            byte[] signature = System.Buffers.Text.Base64Url.DecodeFromChars(token.AsSpan(lastDot + 1));
            static byte[] D(string? s) => System.Buffers.Text.Base64Url.DecodeFromChars(s);

            Func<byte[], byte[], bool> rawVerify, rawSign;
            SecurityKey? imKey;
            switch (alg)
            {
                case JwsAlgorithm.HS256:
                {
                    byte[] secret = D(jwk.K);
                    var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
                    var buffer = new byte[32];
                    rawVerify = (data, sig) =>
                    {
                        hmac.AppendData(data);
                        hmac.GetHashAndReset(buffer);
                        return CryptographicOperations.FixedTimeEquals(buffer, sig);
                    };
                    rawSign = (data, dest) =>
                    {
                        hmac.AppendData(data);
                        return hmac.GetHashAndReset(dest) == 32;
                    };
                    imKey = new SymmetricSecurityKey(secret) { KeyId = key.KeyId };
                    break;
                }
                case JwsAlgorithm.RS256:
                case JwsAlgorithm.PS256:
                {
                    var rsa = RSA.Create();
                    var p = new RSAParameters
                    {
                        Modulus = D(jwk.N), Exponent = D(jwk.E), D = D(jwk.D), P = D(jwk.P), Q = D(jwk.Q), DP = D(jwk.DP), DQ = D(jwk.DQ), InverseQ = D(jwk.QI),
                    };
                    rsa.ImportParameters(p);
                    var padding = alg == JwsAlgorithm.RS256 ? RSASignaturePadding.Pkcs1 : RSASignaturePadding.Pss;
                    rawVerify = (data, sig) => rsa.VerifyData(data, sig, HashAlgorithmName.SHA256, padding);
                    rawSign = (data, dest) => rsa.TrySignData(data, dest, HashAlgorithmName.SHA256, padding, out _);
                    var imRsa = RSA.Create();
                    imRsa.ImportParameters(p);
                    imKey = new RsaSecurityKey(imRsa) { KeyId = key.KeyId };
                    break;
                }
                case JwsAlgorithm.ES256:
                {
                    var p = new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = D(jwk.X), Y = D(jwk.Y) }, D = D(jwk.D) };
                    var ec = ECDsa.Create(p);
                    rawVerify = (data, sig) => ec.VerifyData(data, sig, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                    rawSign = (data, dest) => ec.TrySignData(data, dest, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out _);
                    imKey = new ECDsaSecurityKey(ECDsa.Create(p)) { KeyId = key.KeyId };
                    break;
                }
                default:
                {
                    var publicKey = NSec.Cryptography.PublicKey.Import(SignatureAlgorithm.Ed25519, D(jwk.X), KeyBlobFormat.RawPublicKey);
                    var privateKey = Key.Import(SignatureAlgorithm.Ed25519, D(jwk.D), KeyBlobFormat.RawPrivateKey);
                    rawVerify = (data, sig) => SignatureAlgorithm.Ed25519.Verify(publicKey, data, sig);
                    rawSign = (data, dest) =>
                    {
                        SignatureAlgorithm.Ed25519.Sign(privateKey, data, dest.AsSpan(0, 64));
                        return true;
                    };
                    imKey = null;
                    break;
                }
            }
            return new Setup
            {
                Alg = alg, Verifier = verifier, BouncerIssuer = issuer, Token = token, TokenBytes = Encoding.ASCII.GetBytes(token),
                SigningInput = input, Signature = signature, RawVerify = rawVerify, RawSign = rawSign, ImKey = imKey,
            };
        }

        public List<Contender> VerifyContenders()
        {
            var list = new List<Contender> { new("Bouncer", () => Verifier.Verify(TokenBytes).IsValid) };
            if (ImKey is not null)
            {
                var handler = new JsonWebTokenHandler();
                var parameters = new TokenValidationParameters
                {
                    ValidIssuer = Issuer, ValidAudience = Audience, IssuerSigningKey = ImKey, ValidAlgorithms = [Alg.Name()],
                    ValidTypes = ["at+jwt"], ClockSkew = TimeSpan.FromSeconds(30), RequireExpirationTime = true,
                };
                list.Add(new("IdentityModel", () => handler.ValidateTokenAsync(Token, parameters).GetAwaiter().GetResult().IsValid));
            }
            list.Add(new("raw", () => RawVerify(SigningInput, Signature)));
            return list;
        }

        public List<Contender> IssueContenders()
        {
            var request = new TokenRequest { Subject = "user-1234", SessionId = "sess-5678", Roles = ["user"], Scope = "read write" };
            var list = new List<Contender> { new("Bouncer", () => BouncerIssuer.Issue(request).Length > 0) };
            if (ImKey is not null)
            {
                var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
                var credentials = new SigningCredentials(ImKey, Alg.Name());
                list.Add(new("IdentityModel", () =>
                {
                    var now = DateTime.UtcNow;
                    return handler.CreateToken(new SecurityTokenDescriptor
                    {
                        Issuer = Issuer, Audience = Audience, IssuedAt = now, Expires = now.AddMinutes(10), TokenType = "at+jwt",
                        SigningCredentials = credentials,
                        Claims = new Dictionary<string, object>
                        {
                            ["sub"] = "user-1234", ["jti"] = Guid.NewGuid().ToString("N"), ["sid"] = "sess-5678", ["roles"] = new[] { "user" }, ["scope"] = "read write",
                        },
                    }).Length > 0;
                }));
            }
            var destination = new byte[1024];
            list.Add(new("raw", () => RawSign(SigningInput, destination)));
            return list;
        }
    }
}
