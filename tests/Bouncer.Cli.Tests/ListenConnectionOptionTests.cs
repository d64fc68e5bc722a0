namespace Bouncer.Cli.Tests;

/// <summary><c>--listen-connection</c> (review finding 2) belongs to the postgres store: anywhere else it is refused in one line.</summary>
public sealed class ListenConnectionOptionTests
{
    [Fact]
    public async Task ListenConnection_OnSqlite_IsRefusedInOneLine()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(Program.BuildRoot(),
            ["users", "list", "--store", "memory", "--listen-connection", "Host=db;Username=bouncer;Database=app"], output, error);

        Assert.Equal(BouncerCli.UsageError, code);
        Assert.Equal("error: --listen-connection applies to the postgres store only, not 'memory'.", error.ToString().Trim());
    }
}
