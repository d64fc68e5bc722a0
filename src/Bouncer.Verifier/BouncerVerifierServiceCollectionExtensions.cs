using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Bouncer.Verifier;

/// <summary>Registers the downstream verifier in an ASP.NET Core app.</summary>
public static class BouncerVerifierServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <see cref="DownstreamVerifier"/> (started with the host) and the <c>BouncerVerifier</c> authentication
    /// scheme as the default, so <c>[Authorize]</c> and <c>RequireAuthorization()</c> accept Bouncer tokens. Options are
    /// validated at start.
    /// </summary>
    /// <example><code>
    /// builder.Services.AddBouncerVerifier(o =>
    /// {
    ///     o.Authority = "http://auth.internal:5000";
    ///     o.Audience = "bouncer";
    ///     o.Revocation.Policy = StalenessPolicy.Refuse;
    ///     o.AddIssuer(new TrustedIssuer { Issuer = "https://login.example", JwksUri = "https://login.example/jwks", Audience = "orders", Algorithms = ["RS256"] });
    /// });
    /// </code></example>
    public static AuthenticationBuilder AddBouncerVerifier(this IServiceCollection services, Action<BouncerVerifierOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<BouncerVerifierOptions>().Configure(configure)
            .Validate(o => { o.Validate(); return true; }).ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new DownstreamVerifier(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<BouncerVerifierOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<DownstreamVerifier>());
        services.AddAuthorization();
        return services.AddAuthentication(BouncerVerifierDefaults.AuthenticationScheme)
            .AddScheme<AuthenticationSchemeOptions, BouncerVerifierHandler>(BouncerVerifierDefaults.AuthenticationScheme, null);
    }
}
