using System.Runtime.InteropServices;
using System.Text;
using Bouncer.Dpop;
using Bouncer.Revocation;
using Bouncer.Tests;
using Bouncer.Tokens;

namespace Bouncer.Bench;

/// <summary>
/// What DPoP (RFC 9449) adds to a resource request's check: the access token's verification plus the revocation
/// verdict alone ("bearer"), then the same with one proof checked by <see cref="DpopProofValidator.CheckPresentation"/>
/// (the proof's own signature, htm/htu/iat/ath/jkt and the jti replay cache), for ES256 and EdDSA proof keys. Every
/// proof is fresh (a replayed jti is refused), so the proofs are made before the clock starts. Same harness as
/// <see cref="JwtBench"/>: interleaved slices of thread CPU time, medians.
/// </summary>
internal static class DpopBench
{
    private const string Url = "https://api.example/api/me";

    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        int outAt = Array.IndexOf(args, "--out");
        string? outPath = outAt >= 0 && outAt + 1 < args.Length ? args[outAt + 1] : null;
        int repeats = quick ? 3 : 15;
        var slice = TimeSpan.FromMilliseconds(60);
        string loadBefore = JwtBench.LoadAverage();

        var rows = new List<(string Token, string Contender, double[] Samples)>();
        foreach (var tokenAlg in new[] { JwsAlgorithm.HS256, JwsAlgorithm.RS256, JwsAlgorithm.ES256 })
        {
            await using var setup = await Setup.CreateAsync(tokenAlg);
            // A slice checks at most ~25k proofs a second: enough fresh proofs for every slice of every repeat, plus warm-up.
            int proofsNeeded = (int)(25_000 * slice.TotalSeconds * (repeats + 3));
            var contenders = new List<(string Name, Func<bool> Op)> { ("bearer", setup.Bearer) };
            foreach (var client in new[] { DpopClient.Es256(), DpopClient.EdDsa() })
                contenders.Add(($"DPoP, {client.Algorithm} proof", setup.Bound(client, proofsNeeded)));
            foreach (var (name, op) in contenders)
                if (!op()) throw new InvalidOperationException($"{tokenAlg.Name()} {name} failed its own input");
            var samples = contenders.ToDictionary(c => c.Name, _ => new double[repeats]);
            foreach (var c in contenders) JwtBench.RunFor(c.Op, TimeSpan.FromMilliseconds(100));
            for (int r = 0; r < repeats; r++)
                for (int i = 0; i < contenders.Count; i++)
                {
                    var c = contenders[(i + r) % contenders.Count];
                    samples[c.Name][r] = JwtBench.RunFor(c.Op, slice);
                }
            foreach (var c in contenders) rows.Add((tokenAlg.Name(), c.Name, samples[c.Name]));
            Console.Error.WriteLine($"{tokenAlg.Name()} done");
        }

        var sb = new StringBuilder();
        sb.AppendLine("## In process: one resource request's check, with and without a DPoP proof");
        sb.AppendLine();
        sb.AppendLine($"- Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {RuntimeInformation.FrameworkDescription}, {Environment.ProcessorCount} cores; " +
                      $"load average before {loadBefore}, after {JwtBench.LoadAverage()} (shared machine).");
        sb.AppendLine($"- `bench/Bouncer.Bench -- dpop`: {repeats} interleaved repeats of {slice.TotalMilliseconds:0} ms per contender, single thread, " +
                      "ops/s of thread CPU time, median [min - max].");
        sb.AppendLine("- bearer = `AccessTokenValidator.ValidateAsync` (signature, claims, revocation verdict) + `CheckPresentation` of an unbound " +
                      "token under Bearer; DPoP = the same for a `cnf.jkt`-bound token + one fresh proof (signature by the header jwk, " +
                      "htm, htu, iat, ath, jkt, jti into the replay cache).");
        sb.AppendLine();
        sb.AppendLine("| access token | check | ops/s | µs/op | vs bearer |");
        sb.AppendLine("|---|---|---:|---:|---:|");
        foreach (var group in rows.GroupBy(r => r.Token))
        {
            double bearer = JwtBench.Median(group.First(r => r.Contender == "bearer").Samples);
            foreach (var (token, contender, s) in group)
            {
                double m = JwtBench.Median(s);
                sb.AppendLine($"| {token} | {contender} | {m:N0} [{s.Min():N0} - {s.Max():N0}] | {1e6 / m:0.0} | {m / bearer:0.00}x |");
            }
        }
        var table = sb.ToString();
        Console.WriteLine(table);
        if (outPath is not null) await File.WriteAllTextAsync(outPath, table);
        return 0;
    }

    private sealed class Setup : IAsyncDisposable
    {
        private readonly RevocationListener _listener;
        private readonly AccessTokenValidator _validator;
        private readonly JwsIssuer _issuer;
        private readonly DpopProofValidator _dpop;
        private readonly string _bearerToken;

        private Setup(RevocationListener listener, AccessTokenValidator validator, JwsIssuer issuer, DpopProofValidator dpop)
        {
            _listener = listener;
            _validator = validator;
            _issuer = issuer;
            _dpop = dpop;
            _bearerToken = Issue(null);
        }

        public static async Task<Setup> CreateAsync(JwsAlgorithm alg)
        {
            var key = SigningKey.Generate(alg, "bench");
            var listener = new RevocationListener(new InProcessRevocationChannel(), null, TimeProvider.System);
            await listener.StartAsync(default);
            var verifier = new JwsVerifier(JwkSet.Create([key]), new VerifyOptions { Issuer = "iss", Audience = "aud" }, TimeProvider.System);
            var issuer = new JwsIssuer(key, new IssueOptions { Issuer = "iss", Audience = "aud" }, TimeProvider.System);
            // Room for every proof of the run inside the replay window (capacity = window x rate).
            var dpop = new DpopProofValidator(new DpopOptions { Mode = DpopMode.Optional, MaxProofsPerSecond = 20_000 });
            return new Setup(listener, new AccessTokenValidator(verifier, listener), issuer, dpop);
        }

        private string Issue(string? jkt) => _issuer.Issue(new TokenRequest
        {
            Subject = "alice", SessionId = "s1", JwtId = Guid.NewGuid().ToString("N"), ConfirmationKeyThumbprint = jkt,
        });

        public bool Bearer()
        {
            var result = _validator.ValidateAsync(_bearerToken, default).Result;
            return result.IsValid && _dpop.CheckPresentation(false, [], "GET", Url, _bearerToken, result.Claims.ConfirmationKeyThumbprint, false).IsValid;
        }

        public Func<bool> Bound(DpopClient client, int proofs)
        {
            var token = Issue(client.Thumbprint);
            var made = new string[proofs];
            Parallel.For(0, proofs, i => made[i] = client.Proof("GET", Url, token));
            int next = 0;
            return () =>
            {
                if (next == made.Length) throw new InvalidOperationException("out of fresh proofs: raise proofsNeeded");
                var result = _validator.ValidateAsync(token, default).Result;
                return result.IsValid && _dpop.CheckPresentation(true, [made[next++]], "GET", Url, token, result.Claims.ConfirmationKeyThumbprint, false).IsValid;
            };
        }

        public ValueTask DisposeAsync() => _listener.DisposeAsync();
    }
}
