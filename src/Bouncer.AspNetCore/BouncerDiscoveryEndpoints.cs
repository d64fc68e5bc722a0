using Bouncer.Tokens;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary><c>/.well-known/jwks.json</c> and <c>/.well-known/openid-configuration</c>.</summary>
public static class BouncerDiscoveryEndpoints
{
    /// <summary>Maps the JWKS and the discovery document.</summary>
    public static IEndpointRouteBuilder MapBouncerDiscovery(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<BouncerOptions>>().Value;
        var tokens = new Lazy<BouncerTokens>(app.ServiceProvider.GetRequiredService<BouncerTokens>);
        app.MapGet("/.well-known/jwks.json", () =>
            options.SigningAlgorithm == JwsAlgorithm.HS256
                ? Results.Content("{\"keys\":[]}", "application/jwk-set+json")
                : Results.Content(tokens.Value.Keys.GetPublicJwks(), "application/jwk-set+json"));

        app.MapGet("/.well-known/openid-configuration", (HttpContext ctx) =>
        {
            var origin = $"{ctx.Request.Scheme}://{ctx.Request.Host}";
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = tokens.Value.Issuer,
                ["jwks_uri"] = origin + "/.well-known/jwks.json",
                ["token_endpoint"] = origin + "/auth/login",
                ["id_token_signing_alg_values_supported"] = new[] { options.SigningAlgorithm.Name() },
                ["token_endpoint_auth_signing_alg_values_supported"] = new[] { options.SigningAlgorithm.Name() },
                ["response_types_supported"] = new[] { "token" },
                ["subject_types_supported"] = new[] { "public" },
                ["revocation_feed_endpoint"] = origin + "/auth/revocations",
            });
        });
        return app;
    }
}
