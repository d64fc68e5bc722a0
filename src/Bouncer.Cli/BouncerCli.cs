using System.CommandLine;
using System.Runtime.InteropServices;

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
    /// <summary>Exit code: stopped by Ctrl-C (SIGINT), 128 + 2 as shells report it.</summary>
    public const int Interrupted = 130;
    /// <summary>Exit code: stopped by SIGTERM, 128 + 15 as shells report it.</summary>
    public const int Terminated = 143;

    private static readonly AsyncLocal<TextReader?> CurrentInput = new();
    private static int _signal;

    /// <summary>The exit code for the signal that stopped this process's command: <see cref="Terminated"/> or
    /// <see cref="Interrupted"/> (also when the command was cancelled by a caller's token).</summary>
    internal static int SignalExitCode => Volatile.Read(ref _signal) == Terminated ? Terminated : Interrupted;

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
        root.Add(FeedCommands.Build());
        root.Add(SecretsCommands.Build());
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
            // The first Ctrl-C or SIGTERM cancels the command's token (System.CommandLine's own handling is off: it
            // would let the cancellation escape as a stack trace); a long command stops between two batches. A second
            // one ends the process at once with that signal's exit code: a command stuck where it cannot see the token
            // (a hung store call, a blocking read) must still be stoppable without SIGKILL.
            using var stop = new CancellationTokenSource();
            var signals = 0;
            void OnSignal(PosixSignalContext context, int code)
            {
                if (Interlocked.Increment(ref signals) > 1)
                {
                    error.WriteLine(code == Terminated ? "stopped at once by a second SIGTERM" : "stopped at once by a second Ctrl-C");
                    error.Flush();
                    Environment.Exit(code);
                }
                context.Cancel = true;
                Interlocked.CompareExchange(ref _signal, code, 0);
                stop.Cancel();
            }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => OnSignal(c, Interrupted));
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => OnSignal(c, Terminated));
            try
            {
                return parse.InvokeAsync(new InvocationConfiguration
                {
                    Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null,
                }, stop.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                error.WriteLine(SignalExitCode == Terminated ? "stopped by SIGTERM" : "stopped by Ctrl-C");
                return SignalExitCode;
            }
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
