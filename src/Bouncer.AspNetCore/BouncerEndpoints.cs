using Microsoft.AspNetCore.Routing;

namespace Bouncer.AspNetCore;

/// <summary>Maps every Bouncer endpoint group at once; each group can also be mapped on its own.</summary>
public static class BouncerEndpoints
{
    /// <summary>The feed's heartbeat header (see <see cref="BouncerRevocationFeedEndpoints.FeedHeartbeatHeader"/>).</summary>
    public const string FeedHeartbeatHeader = BouncerRevocationFeedEndpoints.FeedHeartbeatHeader;

    /// <summary>
    /// Maps <see cref="BouncerAuthEndpoints.MapBouncerAuth"/>, <see cref="BouncerSessionEndpoints.MapBouncerSessions"/>,
    /// <see cref="BouncerAdminEndpoints.MapBouncerAdmin"/>, <see cref="BouncerDiscoveryEndpoints.MapBouncerDiscovery"/>
    /// and <see cref="BouncerRevocationFeedEndpoints.MapBouncerRevocationFeed"/>. Call after <c>UseBouncer()</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapBouncerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapBouncerAuth();
        app.MapBouncerSessions();
        app.MapBouncerAdmin();
        app.MapBouncerDiscovery();
        app.MapBouncerRevocationFeed();
        return app;
    }
}
