using Bouncer.Revocation;
using Bouncer.Sessions;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The store contract with a near cache in every engine instance: the engine must keep every promise it keeps
/// without one (caps across instances, renewals, rotations), each instance fed by the others' pushes.
/// </summary>
public sealed class NearCacheSessionStoreContractTests : SessionStoreContract
{
    private readonly InProcessRevocationChannel _channel = new();

    protected override ISessionStore CreateStore(TimeProvider clock) => new MemorySessionStore();

    protected override SessionManager NewManager(ISessionStore store, TimeProvider clock, SessionOptions? options = null)
    {
        var listener = new RevocationListener(_channel, null, clock);
        listener.StartAsync(default).GetAwaiter().GetResult();
        return new SessionManager(store, _channel, clock, options, new SessionCache(listener, clock));
    }
}
