using Bouncer;
using Bouncer.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Bouncer in an ASP.NET Core app.</summary>
/// <example>
/// <code>
/// builder.Services.AddBouncer(o => o.Mode = BouncerMode.Hybrid).UseSqlite("bouncer.db");
/// app.UseBouncer();
/// app.MapBouncerEndpoints();
/// app.MapGet("/me", (ClaimsPrincipal u) => u.Identity!.Name).RequireAuthorization();
/// </code>
/// </example>
public static class BouncerServiceCollectionExtensions
{
    /// <summary>
    /// Adds Bouncer: the engine (<see cref="BouncerCoreServiceCollectionExtensions.AddBouncerEngine{TOptions}(IServiceCollection, Action{TOptions})"/>),
    /// authentication with a default scheme that picks the session or bearer handler by what the request carries,
    /// the admin policy, and a health check per dependency (<see cref="BouncerHealthChecks"/>: the store and the
    /// revocation state; map them with <c>app.MapBouncerHealthChecks("/healthz")</c>). Choose the backend on the returned builder (<c>UseSqlite</c>, <c>UseRedis</c>,
    /// <c>UsePostgres</c>, <c>UseMemory</c>); none is a start-up error.
    /// </summary>
    public static BouncerBuilder AddBouncer(this IServiceCollection services, Action<BouncerOptions>? configure = null) =>
        Add(services, services.AddBouncerEngine(configure));

    /// <summary>
    /// <see cref="AddBouncer(IServiceCollection, Action{BouncerOptions})"/> with <see cref="BouncerOptions"/> bound from
    /// <paramref name="configuration"/>, the <c>Bouncer</c> section (<c>builder.Configuration.GetSection("Bouncer")</c>):
    /// keys are the property names (<c>Mode</c>, <c>Issuer</c>, <c>Audience</c>, nested <c>Sessions:IdleTimeout</c>,
    /// <c>Refresh:AccessTokenLifetime</c>, ...), then <paramref name="configure"/> runs if given. Validated at start,
    /// where a bad value is an error naming the setting.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddBouncer(builder.Configuration.GetSection("Bouncer")).UseSqlite(builder.Configuration);
    /// </code>
    /// </example>
    public static BouncerBuilder AddBouncer(this IServiceCollection services, IConfiguration configuration, Action<BouncerOptions>? configure = null) =>
        Add(services, services.AddBouncerEngine(configuration, configure));

    private static BouncerBuilder Add(IServiceCollection services, BouncerBuilder builder)
    {
        builder.ProtectSecretsWithConfiguredKeyRing();
        services.TryAddSingleton<LoginThrottle>();
        // The default scheme picks the session or bearer handler per request and calls it directly (BouncerSchemeHandler).
        services.TryAddTransient<BouncerSchemeHandler>();
        services.AddAuthentication(o =>
            {
                o.DefaultScheme = BouncerDefaults.AuthenticationScheme;
                o.AddScheme(BouncerDefaults.AuthenticationScheme, s => { s.HandlerType = typeof(BouncerSchemeHandler); s.DisplayName = "Bouncer"; });
            })
            .AddScheme<AuthenticationSchemeOptions, SessionAuthenticationHandler>(BouncerDefaults.SessionScheme, null)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BouncerDefaults.BearerScheme, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(BouncerDefaults.AdminPolicy, p => p.RequireAuthenticatedUser().RequireRole("admin"));
        BouncerHealthChecks.Register(services);
        return builder;
    }
}
