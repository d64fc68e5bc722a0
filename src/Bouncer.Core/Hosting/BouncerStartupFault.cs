using System.Runtime.ExceptionServices;

namespace Bouncer.Hosting;

/// <summary>
/// A configuration fault found before the host starts (an endpoint group resolving a store or options while being
/// mapped), kept so the host's start reports it: <see cref="BouncerEngineService"/> rethrows it first thing, the host
/// logs it once and <c>app.Run()</c> throws it, instead of an exception escaping the app's Program.cs. Thread-safe.
/// </summary>
public sealed class BouncerStartupFault
{
    private ExceptionDispatchInfo? _fault;

    /// <summary>True once a fault is kept: callers stop resolving (a second Redis connect would only cost time).</summary>
    public bool IsReported => Volatile.Read(ref _fault) is not null;

    /// <summary>Keeps the first fault reported.</summary>
    public void Report(Exception fault) => Interlocked.CompareExchange(ref _fault, ExceptionDispatchInfo.Capture(fault), null);

    /// <summary>Rethrows the kept fault, if any.</summary>
    public void ThrowIfReported() => Volatile.Read(ref _fault)?.Throw();
}
