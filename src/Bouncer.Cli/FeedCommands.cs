using System.CommandLine;
using Bouncer.Revocation;

namespace Bouncer.Cli;

/// <summary>
/// <c>bouncer feed key</c>: prints the deployment's generated revocation-feed key, for a downstream verifier's
/// <c>RevocationFeedKey</c> (a server configured with its own <c>Bouncer:RevocationFeedKey</c> uses that instead).
/// Exit codes: 0 done, 2 bad arguments or an unreachable store.
/// </summary>
public static class FeedCommands
{
    /// <summary>Builds the <c>feed</c> command.</summary>
    public static Command Build()
    {
        var store = new StoreOptions();
        var feed = store.Group("feed", "The revocation feed downstream verifiers read.");
        var key = new Command("key", "Print the generated key verifiers send as X-Bouncer-Feed-Key (created on first use).");
        key.SetAction((parse, ct) => store.RunAsync(parse, (bouncer, output) =>
        {
            output.WriteLine(bouncer.Get<RevocationFeedKey>().Value);
            return Task.FromResult(BouncerCli.Ok);
        }));
        feed.Add(key);
        return feed;
    }
}
