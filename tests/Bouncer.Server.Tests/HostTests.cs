using System.Net;

namespace Bouncer.Server.Tests;

public sealed class HostTests
{
    [Fact]
    public async Task Host_TestSettings_RunsOnMemoryStoresWithoutDemo()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.IsType<Bouncer.Sessions.MemorySessionStore>(host.Runtime.Stores.Sessions);
        Assert.Null(host.Runtime.Demo);
    }
}
