namespace Bouncer.Verifier.Tests;

/// <summary>One Bouncer server and two downstream services pointed straight at it, shared by the server tests.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public BouncerServer Server { get; private set; } = null!;
    public Downstream First { get; private set; } = null!;
    public Downstream Second { get; private set; } = null!;
    public string AdminToken { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await BouncerServer.StartAsync();
        await Server.RegisterAsync(BouncerServer.Admin);
        AdminToken = (await Server.LoginAsync(BouncerServer.Admin)).Access;
        First = await Downstream.StartAsync(o => Configure(o, Server.BaseUrl));
        Second = await Downstream.StartAsync(o => Configure(o, Server.BaseUrl));
    }

    public static void Configure(BouncerVerifierOptions o, string authority)
    {
        o.Authority = authority;
        o.Audience = "bouncer";
        // Short so a rotation test sees the unknown-kid refresh at once; the rate limit itself is tested elsewhere.
        o.UnknownKidRefreshInterval = TimeSpan.FromSeconds(1);
    }

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
        await Server.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "bouncer server";
}
