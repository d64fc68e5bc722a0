using System.CommandLine;

namespace Bouncer.Cli;

/// <summary>The <c>bouncer</c> command. Exit codes: 0 done, 1 refused or nothing matched, 2 bad arguments, key file or store.</summary>
public static class Program
{
    /// <summary>The root command with every subcommand attached (see <see cref="BouncerCli.BuildRoot"/>).</summary>
    public static RootCommand BuildRoot() => BouncerCli.BuildRoot();

    /// <summary>Entry point: runs <paramref name="args"/> on the console and returns the exit code.</summary>
    public static int Main(string[] args) => BouncerCli.Run(args, Console.In, Console.Out, Console.Error);

    /// <summary>Parses and runs <paramref name="args"/>; a parse error is one line per error on <paramref name="error"/> and exit 2.</summary>
    public static Task<int> RunAsync(RootCommand root, string[] args, TextWriter output, TextWriter error, CancellationToken ct = default)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count == 0) return parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, ct);
        foreach (var e in parse.Errors) error.WriteLine("error: " + string.Join(' ', e.Message.Split(default(char[]), StringSplitOptions.RemoveEmptyEntries)));
        return Task.FromResult(2);
    }
}
