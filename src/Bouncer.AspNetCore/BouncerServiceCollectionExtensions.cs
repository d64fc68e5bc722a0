using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bouncer.AspNetCore;

/// <summary>Registers Bouncer in an ASP.NET Core app.</summary>
/// <example>
/// <code>
/// builder.Services.AddBouncer(o => o.Mode = BouncerMode.Hybrid).UseStores(_ => BouncerStores.InMemory());
/// app.UseBouncer();
/// app.MapBouncerEndpoints();
/// app.MapGet("/me", (ClaimsPrincipal u) => u.Identity!.Name).RequireAuthorization();
/// </code>
/// </example>
public static class BouncerServiceCollectionExtensions
{
    /// <summary>
    /// Adds Bouncer: options, the runtime (started with the host), authentication with a default scheme
    /// that picks the session or bearer handler by what the request carries, and the admin policy.
    /// Stores default to in-memory; choose others with <see cref="BouncerBuilder.UseStores"/>.
    /// </summary>
    public static BouncerBuilder AddBouncer(this IServiceCollection services, Action<BouncerOptions>? configure = null)
    {
        var options = services.AddOptions<BouncerOptions>();
        if (configure is not null) options.Configure(configure);
        // Fail at start, with the setting named, rather than at the first request.
        options.Validate(o => { o.Validate(); return true; }).ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<BouncerMetrics>();
        services.TryAddSingleton(_ => BouncerStores.InMemory());
        services.TryAddSingleton<BouncerRuntime>();
        services.AddHostedService(sp => sp.GetRequiredService<BouncerRuntime>());

        services.AddAuthentication(BouncerDefaults.AuthenticationScheme)
            .AddPolicyScheme(BouncerDefaults.AuthenticationScheme, "Bouncer", o => o.ForwardDefaultSelector = SelectScheme)
            .AddScheme<AuthenticationSchemeOptions, SessionAuthenticationHandler>(BouncerDefaults.SessionScheme, null)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BouncerDefaults.BearerScheme, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(BouncerDefaults.AdminPolicy, p => p.RequireAuthenticatedUser().RequireRole("admin"));
        return new BouncerBuilder(services);
    }

    /// <summary>
    /// Adds the Bouncer middleware: per-request trace header, CSRF defence for cookie-authenticated
    /// unsafe requests, then authentication and authorization.
    /// </summary>
    public static IApplicationBuilder UseBouncer(this IApplicationBuilder app)
    {
        app.UseMiddleware<BouncerRequestMiddleware>();
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    // A bearer header wins: a native client sends only that; a browser sends only the cookie.
    private static string SelectScheme(HttpContext context) =>
        context.Request.Headers.Authorization.Count > 0 ? BouncerDefaults.BearerScheme : BouncerDefaults.SessionScheme;
}

/// <summary>Further Bouncer configuration.</summary>
public sealed class BouncerBuilder(IServiceCollection services)
{
    public IServiceCollection Services { get; } = services;

    /// <summary>Uses the stores built by <paramref name="factory"/> (one backend for all five).</summary>
    public BouncerBuilder UseStores(Func<IServiceProvider, BouncerStores> factory)
    {
        Services.RemoveAll<BouncerStores>();
        Services.AddSingleton(factory);
        return this;
    }
}
