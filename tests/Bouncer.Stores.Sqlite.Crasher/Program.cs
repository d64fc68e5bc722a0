using Bouncer.Sessions;
using Bouncer.Stores.Sqlite;

// Usage: Bouncer.Stores.Sqlite.Crasher <database file>
// Creates sessions forever, printing each id only after CreateAsync returned (the commit is fsynced),
// so every printed id must survive the SIGKILL the test sends at some random point of a write.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: Bouncer.Stores.Sqlite.Crasher <database file>");
    return 2;
}

using var store = new SqliteSessionStore(args[0]);
// Same long timeouts as the test's SessionManager on the system clock, so the sessions are still live
// when the parent looks for them.
var sessions = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), TimeProvider.System, new SessionOptions { IdleTimeout = TimeSpan.FromDays(1), AbsoluteTimeout = TimeSpan.FromDays(2) });
var stdout = Console.Out;
for (var i = 0; ; i++)
{
    var (_, id) = await sessions.CreateAsync("crash" + (i % 8), $$"""{"n":{{i}}}""", "crasher", default);
    stdout.WriteLine(id);
    stdout.Flush();
}
