using System.CommandLine;

namespace Bouncer.Cli;

/// <summary>
/// The <c>bouncer</c> root command. Each noun adds its own subcommand (<see cref="KeysCommands"/>, <see cref="TokenCommands"/>).
/// Exit codes: 0 success, 1 a token was refused, 2 usage errors (bad arguments, unreadable or unsafe key files).
/// </summary>
public static class BouncerCli
{
    /// <summary>Exit code: success.</summary>
    public const int Ok = 0;
    /// <summary>Exit code: a token was refused, or nothing matched.</summary>
    public const int Refused = 1;
    /// <summary>Exit code: bad arguments, an unreadable or unsafe key file, or an unreachable store.</summary>
    public const int UsageError = 2;

    private static readonly AsyncLocal<TextReader?> CurrentInput = new();

    /// <summary>Standard input of the current run (tests run the CLI in-process with their own reader).</summary>
    public static TextReader Input => CurrentInput.Value ?? Console.In;

    /// <summary>The root command with every subcommand attached.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("Bouncer: sessions, tokens and keys");
        root.Add(KeysCommands.Build());
        root.Add(TokenCommands.Build());
        root.Add(SessionsCommands.Build());
        root.Add(UsersCommands.Build());
        root.Add(AuditCommands.Build());
        return root;
    }

    /// <summary>Parses and runs one command line; usage errors become exit code 2 and one line on <paramref name="error"/>.</summary>
    public static int Run(string[] args, TextReader input, TextWriter output, TextWriter error)
    {
        CurrentInput.Value = input;
        try
        {
            // No response files: an argument starting with '@' is data, never a file to expand.
            var parse = BuildRoot().Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
            if (parse.Errors.Count > 0)
            {
                error.WriteLine($"error: {parse.Errors[0].Message}");
                return UsageError;
            }
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (CliUsageException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            return UsageError;
        }
        finally
        {
            CurrentInput.Value = null;
        }
    }
}

/// <summary>A usage problem reported as one line and exit code 2, never as a stack trace.</summary>
public sealed class CliUsageException(string message, Exception? inner = null) : Exception(message, inner);
