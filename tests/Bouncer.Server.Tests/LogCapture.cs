using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Bouncer.Server.Tests;

/// <summary>
/// A logger provider keeping every entry it is given as one text: level, category, event, the formatted message,
/// each state value, the exception (with inner ones) and the text and values of every scope open at the time.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _entries = new();
    private readonly AsyncLocal<Scope?> _scope = new();

    public IReadOnlyCollection<string> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed record Scope(string Text, Scope? Parent);

    private static string Describe(object? state)
    {
        if (state is null) return "";
        var text = new StringBuilder(state.ToString());
        if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
        {
            foreach (var (key, value) in pairs) text.Append(" {").Append(key).Append('=').Append(value).Append('}');
        }
        return text.ToString();
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable BeginScope<TState>(TState state) where TState : notnull
        {
            var parent = owner._scope.Value;
            owner._scope.Value = new Scope(Describe(state), parent);
            return new Pop(owner, parent);
        }

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = new StringBuilder()
                .Append(logLevel).Append(' ').Append(category).Append('[').Append(eventId.Id).Append("] ")
                .Append(formatter(state, exception)).Append(" | state:").Append(Describe(state));
            if (exception is not null) text.Append(" | exception: ").Append(exception);
            for (var scope = owner._scope.Value; scope is not null; scope = scope.Parent) text.Append(" | scope: ").Append(scope.Text);
            owner._entries.Enqueue(text.ToString());
        }
    }

    private sealed class Pop(LogCapture owner, Scope? parent) : IDisposable
    {
        public void Dispose() => owner._scope.Value = parent;
    }
}
