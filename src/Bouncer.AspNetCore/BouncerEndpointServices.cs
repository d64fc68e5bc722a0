using Bouncer.Access;
using Bouncer.Hosting;
using Bouncer.Refresh;
using Bouncer.Sessions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

// Endpoint groups resolve the engine while being mapped. A bad setting or an unreachable store found there is kept
// for the host's start (BouncerStartupFault) and the group is not mapped: the app then fails at app.Run() with the
// one-line message, logged once by the host, never with an app that runs without its endpoints.
internal static class BouncerEndpointServices
{
    internal static bool Ready(IEndpointRouteBuilder app)
    {
        var sp = app.ServiceProvider;
        var fault = sp.GetRequiredService<BouncerStartupFault>();
        if (fault.IsReported) return false;
        try
        {
            _ = sp.GetRequiredService<IOptions<BouncerOptions>>().Value;
            sp.GetRequiredService<BouncerStores>();
            sp.GetRequiredService<SessionManager>();
            sp.GetRequiredService<RefreshTokenService>();
            sp.GetRequiredService<AccessManager>();
            return true;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
        {
            fault.Report(ex);
            return false;
        }
    }
}
