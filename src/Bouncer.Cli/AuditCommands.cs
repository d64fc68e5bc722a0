using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Bouncer.Diagnostics;
using Bouncer.Users;

namespace Bouncer.Cli;

/// <summary>
/// <c>bouncer audit [--user NAME]</c>: what happened to an account (or to the deployment), newest first, from the
/// store's audit trail. Exit codes: 0 done, 2 bad arguments or an unreachable store.
/// </summary>
public static class AuditCommands
{
    /// <summary>Builds the <c>audit</c> command.</summary>
    public static Command Build()
    {
        var store = new StoreOptions();
        var user = new Option<string?>("--user") { Description = "Only events about this user." };
        var limit = new Option<int>("--limit") { Description = "Most events shown.", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "One JSON object per line instead of a table." };
        var audit = store.Group("audit", "Show the audit trail, newest first.");
        audit.Add(user);
        audit.Add(limit);
        audit.Add(json);
        audit.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var name = parse.GetValue(user);
            var subject = name is null ? null : UserService.Normalize(name) ?? throw new ArgumentException("--user: bad username");
            var events = await bouncer.Get<BouncerStores>().Audit.ListAsync(subject, Math.Clamp(parse.GetValue(limit), 1, 10_000), ct);
            if (events.Count == 0) output.WriteLine("no events");
            foreach (var e in events)
            {
                if (parse.GetValue(json))
                    output.WriteLine(JsonSerializer.Serialize(new { @event = e.Kind.Name(), id = (int)e.Kind, at = e.At, actor = e.Actor, subject = e.Subject, target = e.Target, reason = e.Reason, client_address = e.ClientAddress }));
                else
                    output.WriteLine($"{e.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)}  {e.Kind.Name(),-22}  {e.Subject ?? "-",-20}  by {e.Actor ?? "-"}  {e.Reason}  {e.ClientAddress}");
            }
            return BouncerCli.Ok;
        }));
        return audit;
    }
}
