using Bouncer.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds Bouncer's middleware to the pipeline.</summary>
public static class BouncerApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the Bouncer middleware: the request's caller (for the audit trail) and trace header, CSRF defence for
    /// cookie-authenticated unsafe requests, then authentication and authorization.
    /// </summary>
    public static IApplicationBuilder UseBouncer(this IApplicationBuilder app)
    {
        app.UseMiddleware<BouncerRequestMiddleware>();
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }
}
