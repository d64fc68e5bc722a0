using Bouncer.Tests;

/// <summary>
/// The DPoP rows of the HTTP bench (bench/run-dpop-bench.sh): one client key per process, a token bound to it, and
/// proofs made before the load starts. A proof's jti is spent on first use (RFC 9449 11.1), so the load generator
/// needs one fresh proof per request: <c>/bench/dpop-proofs</c> writes them to a file that bench/dpop.lua cycles through.
/// </summary>
internal static class BenchDpop
{
    /// <summary>The client key of a DPoP mode (bouncer-dpop-es256, bouncer-dpop-eddsa), else null.</summary>
    public static DpopClient? ClientFor(string mode) => mode switch
    {
        "bouncer-dpop-es256" => DpopClient.Es256(),
        "bouncer-dpop-eddsa" => DpopClient.EdDsa(),
        _ => null,
    };

    /// <summary>
    /// Writes <paramref name="count"/> fresh proofs for GET <paramref name="url"/> carrying <paramref name="token"/>'s
    /// ath, one per line, made on every core; for a plain mode (no client) a same-length padding line instead, so both
    /// rows send the same bytes through the same script.
    /// </summary>
    public static async Task<string> WriteProofsAsync(DpopClient? client, string url, string token, int count, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), $"bouncer-dpop-proofs-{Environment.ProcessId}-{Guid.NewGuid():N}.txt");
        var lines = new string[count];
        if (client is null)
        {
            var pad = new string('p', DpopClient.Es256().Proof("GET", url, token).Length);
            Array.Fill(lines, pad);
        }
        else
        {
            Parallel.For(0, count, new ParallelOptions { CancellationToken = ct }, i => lines[i] = client.Proof("GET", url, token));
        }
        await File.WriteAllLinesAsync(path, lines, ct);
        return path;
    }
}
