using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Bouncer.Sessions;

namespace Bouncer.Cli;

/// <summary>
/// <c>bouncer sessions list|revoke|sweep</c>: look at and clean up sessions in any store. Exit codes:
/// 0 done, 1 <c>revoke --id</c> matched nothing, 2 bad arguments or an unreachable store (one line on
/// stderr, no stack trace).
/// </summary>
/// <example>
/// <code>
/// bouncer sessions list --user alice --connection /var/lib/app/sessions.db --json
/// bouncer sessions revoke --user alice --id &lt;handle from list&gt; --connection /var/lib/app/sessions.db
/// bouncer sessions sweep --store sqlite --connection "Data Source=/var/lib/app/sessions.db"
/// </code>
/// </example>
public static class SessionsCommands
{
    /// <summary>Builds the <c>sessions</c> command with its subcommands.</summary>
    public static Command Build()
    {
        var storeOptions = new StoreOptions();
        var (store, connection) = (storeOptions.Store, storeOptions.Connection);
        var sessions = storeOptions.Group("sessions", "List, revoke and sweep sessions.");
        sessions.Add(BuildList(storeOptions));
        sessions.Add(BuildRevoke(storeOptions));
        sessions.Add(BuildSweep(storeOptions));
        return sessions;
    }

    private static Command BuildList(StoreOptions store)
    {
        var user = new Option<string>("--user") { Description = "User whose live sessions to list.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print a JSON array instead of a table." };
        var list = new Command("list", "List a user's live sessions, newest first.") { user, json };
        list.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var manager = bouncer.Get<SessionManager>();
            var found = await manager.ListUserAsync(parse.GetValue(user)!, ct);
            output.Write(parse.GetValue(json) ? ToJson(found) : ToTable(found));
            return 0;
        }));
        return list;
    }

    private static Command BuildRevoke(StoreOptions store)
    {
        var user = new Option<string?>("--user") { Description = "Alone: revoke every session of the user. With --id: the owner of the session." };
        var id = new Option<string?>("--id") { Description = "A session id, or (with --user) the public handle shown by list." };
        var revoke = new Command("revoke", "Revoke one session, or every session of a user.") { user, id };
        revoke.Validators.Add(result =>
        {
            if (result.GetResult(user) is null && result.GetResult(id) is null) result.AddError("revoke needs --user, --id, or both.");
        });
        revoke.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var manager = bouncer.Get<SessionManager>();
            var userId = parse.GetValue(user);
            var target = parse.GetValue(id);
            if (target is null)
            {
                var n = await manager.EndUserSessionsAsync(userId!, "cli_revoke", ct);
                output.WriteLine($"revoked {n} session(s) of {userId}");
                return 0;
            }
            // An id and a handle look alike (43 base64url chars): try the id first (it hashes to the key),
            // then, when the owner is named, the handle. A handle alone is refused: a handle is shown to
            // its owner, so naming the owner is what stops revoking someone else's session by mistake.
            var revoked = await manager.DeleteAsync(target, ct)
                || (userId is not null && await manager.EndSessionAsync(userId, target, "cli_revoke", ct));
            output.WriteLine(revoked ? "revoked 1 session" : "no such session");
            return revoked ? 0 : 1;
        }));
        return revoke;
    }

    private static Command BuildSweep(StoreOptions store)
    {
        var batch = new Option<int>("--batch-size") { Description = "Rows deleted per transaction.", DefaultValueFactory = _ => new SessionOptions().SweepBatchSize };
        batch.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError("--batch-size must be at least 1.");
        });
        var sweep = new Command("sweep", "Delete every expired session, in short batches.") { batch };
        sweep.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var manager = bouncer.Get<SessionManager>();
            var error = parse.InvocationConfiguration.Error;
            // On a terminal one line on stderr is rewritten in place (at most ten times a second); into a pipe or
            // a file each batch is one line on stdout, so scripts and logs keep every count.
            var terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            long last = 0, shownAt = 0;
            // Synchronous progress: Progress<T> would post to the thread pool and print out of order. The total
            // is what the store reported deleted, batch by batch, so the line never runs ahead of or behind the work.
            var progress = new LineProgress(total =>
            {
                if (total == last) return;
                last = total;
                if (!terminal)
                {
                    output.WriteLine($"swept {total}...");
                    return;
                }
                var now = System.Diagnostics.Stopwatch.GetTimestamp();
                if (System.Diagnostics.Stopwatch.GetElapsedTime(shownAt, now).TotalMilliseconds < 100) return;
                shownAt = now;
                var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started, now).TotalSeconds;
                error.Write($"\rswept {total} expired session(s), {total / Math.Max(seconds, 0.001):0}/s ");
            });
            long swept;
            try
            {
                swept = await manager.SweepAsync(progress, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Each batch is its own transaction: what was swept stays swept, and the count says how much.
                if (terminal) error.Write('\r');
                error.WriteLine($"stopped: swept {last} expired session(s) before the signal");
                return BouncerCli.SignalExitCode;
            }
            if (terminal && last > 0) error.Write('\r' + new string(' ', 60) + '\r');
            output.WriteLine($"swept {swept} expired session(s)");
            return 0;
        }, o => o.Sessions.SweepBatchSize = parse.GetValue(batch)));
        return sweep;
    }

    private static string ToTable(IReadOnlyList<Session> sessions)
    {
        if (sessions.Count == 0) return "no live sessions\n";
        var sb = new StringBuilder();
        sb.AppendLine($"{"HANDLE",-43}  {"CREATED",-20}  {"LAST SEEN",-20}  {"EXPIRES",-20}  CLIENT");
        foreach (var s in sessions)
            sb.AppendLine($"{s.Handle,-43}  {Time(s.CreatedAt),-20}  {Time(s.LastSeenAt),-20}  {Time(s.ExpiresAt),-20}  {OneLine(s.Client ?? "")}");
        return sb.ToString();
    }

    private static string ToJson(IReadOnlyList<Session> sessions)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var s in sessions)
            {
                w.WriteStartObject();
                w.WriteString("handle", s.Handle);
                w.WriteString("userId", s.UserId);
                w.WriteString("client", s.Client);
                w.WriteString("createdAt", s.CreatedAt);
                w.WriteString("lastSeenAt", s.LastSeenAt);
                w.WriteString("expiresAt", s.ExpiresAt);
                w.WriteString("absoluteExpiresAt", s.AbsoluteExpiresAt);
                // Data is a JSON object (the engine checks it), so it is embedded as JSON, not as a string.
                w.WritePropertyName("data");
                if (s.Data is null) w.WriteNullValue();
                else w.WriteRawValue(s.Data);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string OneLine(string s) => StoreOptions.OneLine(s);

    private sealed class LineProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
