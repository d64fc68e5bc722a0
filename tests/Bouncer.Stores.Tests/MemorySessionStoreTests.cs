using Bouncer.Sessions;

namespace Bouncer.Stores.Tests;

public sealed class MemorySessionStoreTests : SessionStoreContract
{
    protected override ISessionStore CreateStore(TimeProvider clock) => new MemorySessionStore();
}
