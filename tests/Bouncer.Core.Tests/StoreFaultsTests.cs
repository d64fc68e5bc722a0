namespace Bouncer.Core.Tests;

/// <summary>What counts as a store outage (503) and what does not (the client's fault, or a programming error).</summary>
public sealed class StoreFaultsTests
{
    [Fact]
    public void Outages_AreTimeoutsSocketsAndDatabaseFaults_EvenWrapped()
    {
        Assert.True(StoreFaults.IsUnavailable(new TimeoutException()));
        Assert.True(StoreFaults.IsUnavailable(new System.Net.Sockets.SocketException()));
        Assert.True(StoreFaults.IsUnavailable(new InvalidOperationException("wrapped", new TimeoutException())));
    }

    [Fact]
    public void AnIOExceptionOfTheRequest_IsNotAStoreOutage()
    {
        // A malformed request body or query value surfaces as an IOException (ASP.NET Core's BadHttpRequestException).
        Assert.False(StoreFaults.IsUnavailable(new IOException("Unexpected end of request content.")));
        Assert.False(StoreFaults.IsUnavailable(new InvalidOperationException("a bug")));
        Assert.False(StoreFaults.IsUnavailable(new OperationCanceledException()));
    }
}
