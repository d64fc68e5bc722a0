namespace Bouncer.Diagnostics;

/// <summary>
/// What the engine did for one operation on the current async flow: which strategy authenticated it, how many store
/// round trips, signature checks and revocation checks it cost. A host starts one per request (the server sends it
/// back as the <c>Bouncer-Trace</c> header, so the simulator shows facts, not a script); the engine only adds to it.
/// </summary>
public sealed class BouncerTrace
{
    private static readonly AsyncLocal<BouncerTrace?> CurrentTrace = new();

    /// <summary>The trace of the operation running on this async flow, or null when nobody asked for one.</summary>
    public static BouncerTrace? Current
    {
        get => CurrentTrace.Value;
        set => CurrentTrace.Value = value;
    }

    /// <summary>How the request was authenticated: <c>session</c>, <c>jwt</c> or <c>none</c>.</summary>
    public string Strategy { get; set; } = "none";

    /// <summary>Session lookups served (near cache or store).</summary>
    public int SessionLookups { get; set; }

    /// <summary>Session reads that went past the near cache to the store (what a session check cost).</summary>
    public int StoreLookups { get => _storeLookups; set => _storeLookups = value; }

    /// <summary>Every round trip to a store the operation made: reads and writes of login, refresh, revoke and session checks.</summary>
    public int StoreRoundTrips { get => _storeRoundTrips; set => _storeRoundTrips = value; }

    // Counted with Interlocked: a logout everywhere runs its two halves side by side on one trace.
    private int _storeLookups, _storeRoundTrips;

    /// <summary>Signatures verified.</summary>
    public int SignatureChecks { get; set; }

    /// <summary>Checks against the in-memory revocation state.</summary>
    public int RevocationChecks { get; set; }

    /// <summary>Length of the credential presented, in characters.</summary>
    public int CredentialBytes { get; set; }

    /// <summary>The failure code of a refusal, or null.</summary>
    public string? Reason { get; set; }

    /// <summary>Counts one session read past the near cache (also a round trip) on the current trace, if any.</summary>
    public static void StoreLookup()
    {
        if (CurrentTrace.Value is not { } trace) return;
        Interlocked.Increment(ref trace._storeLookups);
        Interlocked.Increment(ref trace._storeRoundTrips);
    }

    /// <summary>Counts one store round trip on the current trace, if any.</summary>
    public static void StoreRoundTrip()
    {
        if (CurrentTrace.Value is { } trace) Interlocked.Increment(ref trace._storeRoundTrips);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"strategy={Strategy}; session-lookups={SessionLookups}; store-lookups={StoreLookups}; store-round-trips={StoreRoundTrips}; signature-checks={SignatureChecks}; revocation-checks={RevocationChecks}; credential-bytes={CredentialBytes}" +
        (Reason is null ? "" : $"; reason={Reason}");
}
