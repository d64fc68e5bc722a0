using System.CommandLine;
using Microsoft.Extensions.Options;

namespace Bouncer.Cli;

/// <summary>
/// <c>--store</c> and <c>--connection</c>, as the server takes them, and the runner every store command shares: the
/// engine composed on that store, the command's body, and infrastructure faults as one line on stderr and exit 2.
/// </summary>
internal sealed class StoreOptions
{
    public Option<string> Store { get; } = new("--store")
    {
        Description = "Store: memory, sqlite, redis or postgres (as the server's --store).",
        DefaultValueFactory = _ => "sqlite",
        Recursive = true,
    };

    public Option<string?> Connection { get; } = new("--connection")
    {
        Description = "Connection string of the store (as the server's --connection); for sqlite a file path or \"Data Source=...\", default ./data/bouncer.db.",
        Recursive = true,
    };

    public Option<string?> ListenConnection { get; } = new("--listen-connection")
    {
        Description = "postgres behind a transaction pooler (PgBouncer pool_mode = transaction): a direct connection string for LISTEN, "
            + "while --connection names the pooler (as the server's Bouncer:ListenConnection).",
        Recursive = true,
    };

    public Option<string?> KeyFile { get; } = new("--key-file")
    {
        Description = "The key file that encrypts the store's secrets (as the server's Bouncer:KeyEncryption:KeyFile; default: the environment's "
            + "Bouncer__KeyEncryption__Key or Bouncer__KeyEncryption__KeyFile, or for sqlite the .key file beside the database). When given, it wins over "
            + "an environment key.",
        Recursive = true,
    };

    public StoreOptions() => Store.AcceptOnlyFromAmong(BouncerConnection.Kinds);

    /// <summary>A command group carrying the store options for all its subcommands.</summary>
    public Command Group(string name, string description) => new(name, description) { Store, Connection, ListenConnection, KeyFile };

    /// <summary>
    /// Opens the engine, runs <paramref name="body"/> and closes it. Infrastructure and input failures become one line
    /// on stderr and exit code 2: an operator needs the cause, not a stack trace.
    /// </summary>
    public async Task<int> RunAsync(ParseResult parse, Func<BouncerConnection, TextWriter, Task<int>> body, Action<BouncerEngineOptions>? configure = null)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        BouncerConnection? bouncer = null;
        try
        {
            // The server's environment variables name the key the same way, so a CLI run beside it needs no flag.
            var explicitKeyFile = parse.GetValue(KeyFile);
            var keyFile = explicitKeyFile ?? Environment.GetEnvironmentVariable("Bouncer__KeyEncryption__KeyFile");
            // An explicit --key-file wins over an environment key: the engine reads Key before KeyFile, so left set it
            // would silently decrypt with another key than the one the operator named.
            var key = string.IsNullOrEmpty(explicitKeyFile) ? Environment.GetEnvironmentVariable("Bouncer__KeyEncryption__Key") : null;
            bouncer = BouncerConnection.Open(parse.GetValue(Store)!, parse.GetValue(Connection), o =>
            {
                // The command's settings first (a deployment's settings file may name a key too); the key flags win.
                configure?.Invoke(o);
                if (!string.IsNullOrEmpty(keyFile)) o.KeyEncryption.KeyFile = keyFile;
                if (!string.IsNullOrEmpty(explicitKeyFile)) o.KeyEncryption.Key = null;   // also one bound from a settings file
                else if (!string.IsNullOrEmpty(key)) o.KeyEncryption.Key = key;
            }, parse.GetValue(ListenConnection));
            return await body(bouncer, output);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or IOException or InvalidOperationException or UnauthorizedAccessException
                                   or OptionsValidationException or StackExchange.Redis.RedisException or System.Data.Common.DbException
                                   or System.Net.Sockets.SocketException or TimeoutException)
        {
            // ArgumentException covers bad user ids (SessionInputException) and malformed connection strings;
            // IOException covers SqliteStoreException; drivers' own failures derive from these.
            error.WriteLine("error: " + OneLine(ex.Message));
            return BouncerCli.UsageError;
        }
        finally
        {
            if (bouncer is not null) await bouncer.DisposeAsync();
        }
    }

    public static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
