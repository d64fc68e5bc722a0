using Bouncer.Diagnostics;

namespace Bouncer.Tests.Diagnostics;

/// <summary>A caller read from its source reads the address and user agent only when asked, once; the actor every time.</summary>
public sealed class BouncerCallerTests
{
    private sealed class Request
    {
        public int AddressReads, AgentReads;
        public string? User;
    }

    [Fact]
    public void SourceCaller_ReadsDetailsOnDemand_AddressOnce_ActorEachTime()
    {
        var request = new Request();
        var caller = new BouncerCaller(request,
            static r => ((Request)r).User,
            static r => { ((Request)r).AddressReads++; return "192.0.2.7"; },
            static r => { ((Request)r).AgentReads++; return "curl/8"; });
        Assert.Equal(0, request.AddressReads);
        Assert.Equal(0, request.AgentReads);

        Assert.Null(caller.ResolveActor());
        request.User = "alice";   // authenticated after the caller was set
        Assert.Equal("alice", caller.ResolveActor());
        Assert.Equal("192.0.2.7", caller.ClientAddress);
        Assert.Equal("192.0.2.7", caller.ClientAddress);
        Assert.Equal("curl/8", caller.UserAgent);
        Assert.Equal(1, request.AddressReads);
        Assert.Equal(1, request.AgentReads);
    }

    [Fact]
    public void FixedCaller_KeepsItsValues()
    {
        var caller = new BouncerCaller { Actor = "cli", ClientAddress = "local", UserAgent = "bouncer" };
        Assert.Equal("cli", caller.ResolveActor());
        Assert.Equal("local", caller.ClientAddress);
        Assert.Equal("bouncer", caller.UserAgent);
        Assert.Throws<ArgumentNullException>(() => new BouncerCaller(null!, _ => null, _ => null, _ => null));
    }
}
