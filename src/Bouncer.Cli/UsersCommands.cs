using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Bouncer.Access;
using Bouncer.Users;

namespace Bouncer.Cli;

/// <summary>
/// <c>bouncer users list|show|create|roles|suspend|unsuspend|unlock|delete|revoke</c>: accounts on any store,
/// through the same engine as the server, so a change is announced to running servers and audited like theirs.
/// Exit codes: 0 done, 1 no such user (or the name is taken), 2 bad arguments or an unreachable store.
/// </summary>
/// <example>
/// <code>
/// bouncer users roles alice --role admin --role support --connection data/bouncer.db
/// echo "$PASSWORD" | bouncer users create bob --password-stdin --store redis --connection localhost:6379
/// </code>
/// </example>
public static class UsersCommands
{
    /// <summary>Builds the <c>users</c> command with its subcommands.</summary>
    public static Command Build()
    {
        var store = new StoreOptions();
        var users = store.Group("users", "List and change accounts: roles, suspension, lockout, deletion.");
        users.Add(BuildList(store));
        users.Add(BuildShow(store));
        users.Add(BuildCreate(store));
        users.Add(BuildRoles(store));
        users.Add(Change(store, "suspend", "Suspend: end every credential of the user and refuse logins.", (a, n, ct) => a.SuspendAsync(n, ct), "suspended"));
        users.Add(Change(store, "unsuspend", "Lift a suspension.", (a, n, ct) => a.UnsuspendAsync(n, ct), "unsuspended"));
        users.Add(Change(store, "unlock", "Clear a lockout after failed logins.", (a, n, ct) => a.UnlockAsync(n, ct), "unlocked"));
        users.Add(Change(store, "delete", "Delete the account and end every credential of it.", (a, n, ct) => a.DeleteUserAsync(n, ct), "deleted"));
        users.Add(BuildRevoke(store));
        return users;
    }

    private static Argument<string> Name() => new("username") { Description = "The account's username." };

    private static Command BuildList(StoreOptions store)
    {
        var prefix = new Option<string?>("--name") { Description = "Only usernames starting with this." };
        var limit = new Option<int>("--limit") { Description = "Most accounts shown.", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = new Command("list", "List accounts in name order.") { prefix, limit, json };
        list.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var page = await bouncer.Get<BouncerStores>().Users.ListAsync(parse.GetValue(prefix)?.ToLowerInvariant(), null, Math.Clamp(parse.GetValue(limit), 1, 10_000), ct);
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(page.Select(View)));
                return BouncerCli.Ok;
            }
            if (page.Count == 0) output.WriteLine("no users");
            foreach (var u in page)
                output.WriteLine($"{u.Username,-32}  {(u.Suspended ? "suspended" : u.LockedUntil > DateTimeOffset.UtcNow ? "locked" : "active"),-9}  {u.Roles}");
            return BouncerCli.Ok;
        }));
        return list;
    }

    private static Command BuildShow(StoreOptions store)
    {
        var name = Name();
        var show = new Command("show", "Show one account as JSON (never its password hash).") { name };
        show.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var user = UserService.Normalize(parse.GetValue(name)) is { } n ? await bouncer.Get<BouncerStores>().Users.GetAsync(n, ct) : null;
            if (user is null) return NoSuchUser(parse);
            output.WriteLine(JsonSerializer.Serialize(View(user)));
            return BouncerCli.Ok;
        }));
        return show;
    }

    private static Command BuildCreate(StoreOptions store)
    {
        var name = Name();
        var roles = new Option<string[]>("--role") { Description = "A role to grant (repeat for several).", AllowMultipleArgumentsPerToken = false };
        var fromStdin = new Option<bool>("--password-stdin") { Description = "Read the password from the first line of standard input (never from the command line).", Required = true };
        var create = new Command("create", "Create an account.") { name, roles, fromStdin };
        create.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var normalized = AccessManager.NormalizeRoles(parse.GetValue(roles) ?? []) ?? throw new ArgumentException("roles: names of 1-64 characters a-z 0-9 _ . : -, at most 32.");
            var password = BouncerCli.Input.ReadLine();
            var (outcome, username) = await bouncer.Get<AccessManager>().CreateUserAsync(parse.GetValue(name), password, normalized, "cli", ct);
            switch (outcome)
            {
                case UserOutcome.Ok:
                    output.WriteLine($"created {username}");
                    return BouncerCli.Ok;
                case UserOutcome.Taken:
                    parse.InvocationConfiguration.Error.WriteLine("error: that username is taken");
                    return BouncerCli.Refused;
                default:
                    parse.InvocationConfiguration.Error.WriteLine("error: bad username, or a password shorter than the policy allows");
                    return BouncerCli.UsageError;
            }
        }));
        return create;
    }

    private static Command BuildRoles(StoreOptions store)
    {
        var name = Name();
        var roles = new Option<string[]>("--role") { Description = "A role the user keeps or gets (repeat; none: no roles)." };
        var command = new Command("roles", "Replace the user's roles; every live session and token of the user sees the change at once.") { name, roles };
        command.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var normalized = AccessManager.NormalizeRoles(parse.GetValue(roles) ?? []) ?? throw new ArgumentException("roles: names of 1-64 characters a-z 0-9 _ . : -, at most 32.");
            if (UserService.Normalize(parse.GetValue(name)) is not { } n) return NoSuchUser(parse);
            var outcome = await bouncer.Get<AccessManager>().SetRolesAsync(n, normalized, ct);
            if (outcome != UserOutcome.Ok) return NoSuchUser(parse);
            output.WriteLine($"roles of {n}: {(normalized.Length == 0 ? "(none)" : normalized)}");
            return BouncerCli.Ok;
        }));
        return command;
    }

    private static Command Change(StoreOptions store, string verb, string description, Func<AccessManager, string, CancellationToken, ValueTask<UserOutcome>> change, string done)
    {
        var name = Name();
        var command = new Command(verb, description) { name };
        command.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            if (UserService.Normalize(parse.GetValue(name)) is not { } n) return NoSuchUser(parse);
            if (await change(bouncer.Get<AccessManager>(), n, ct) != UserOutcome.Ok) return NoSuchUser(parse);
            output.WriteLine($"{done} {n}");
            return BouncerCli.Ok;
        }));
        return command;
    }

    private static Command BuildRevoke(StoreOptions store)
    {
        var name = Name();
        var command = new Command("revoke", "End every session, refresh family and access token of the user (the account stays).") { name };
        command.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            if (UserService.Normalize(parse.GetValue(name)) is not { } n) return NoSuchUser(parse);
            var ended = await bouncer.Get<AccessManager>().RevokeUserAsync(n, "cli_revoke", ct);
            output.WriteLine($"revoked every credential of {n} ({ended.ToString(CultureInfo.InvariantCulture)} session(s))");
            return BouncerCli.Ok;
        }));
        return command;
    }

    private static int NoSuchUser(ParseResult parse)
    {
        parse.InvocationConfiguration.Error.WriteLine("error: no such user");
        return BouncerCli.Refused;
    }

    private static object View(UserRecord u) => new
    {
        username = u.Username,
        roles = u.Roles.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        suspended = u.Suspended,
        locked_until = u.LockedUntil,
        failed_logins = u.FailedLogins,
        created_at = u.CreatedAt,
    };
}
