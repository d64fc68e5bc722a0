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
        if (!BouncerEndpointServices.Ready(app)) return app;
        var optionsAccessor = app.ServiceProvider.GetRequiredService<IOptions<BouncerOptions>>();
        var tokens = new Lazy<BouncerTokens>(app.ServiceProvider.GetRequiredService<BouncerTokens>);
        app.MapGet("/.well-known/jwks.json", () =>
            optionsAccessor.Value.SigningAlgorithm == JwsAlgorithm.HS256
                ? Results.Content("{\"keys\":[]}", "application/jwk-set+json")
                : Results.Content(tokens.Value.Keys.GetPublicJwks(), "application/jwk-set+json"));

        var server = app.ServiceProvider.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>();
        app.MapGet("/.well-known/openid-configuration", () =>
        {
            var options = optionsAccessor.Value;
            var origin = PublicOrigin(options, tokens.Value.Issuer, server);
            // Only what Bouncer implements: no token_endpoint (POST /auth/login is not an OAuth token endpoint, and an
            // OIDC client would call it wrongly).
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = tokens.Value.Issuer,
                ["jwks_uri"] = origin + "/.well-known/jwks.json",
                ["id_token_signing_alg_values_supported"] = new[] { options.SigningAlgorithm.Name() },
                ["response_types_supported"] = new[] { "token" },
                ["subject_types_supported"] = new[] { "public" },
                ["revocation_feed_endpoint"] = origin + "/auth/revocations",
                // Extra metadata (RFC 8414 2 allows it): the aud of this deployment's access tokens, which a verifier
                // must expect (Bouncer:Audience, default bouncer).
                ["audience"] = options.Audience,
            });
        });
        return app;
    }

    /// <summary>
    /// The origin discovery names, from configuration only (never the request's Host header): PublicOrigin, else the
    /// issuer when it is an http(s) URL, else the server's first listen address with a concrete host.
    /// </summary>
    internal static string PublicOrigin(BouncerOptions options, string issuer, Microsoft.AspNetCore.Hosting.Server.IServer? server)
    {
        if (options.PublicOrigin is { Length: > 0 } configured) return configured;
        if (Uri.TryCreate(issuer, UriKind.Absolute, out var iss) && iss.Scheme is "http" or "https") return iss.GetLeftPart(UriPartial.Authority);
        var addresses = server?.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
            if (Uri.TryCreate(address.Replace("://+", "://localhost").Replace("://*", "://localhost").Replace("://0.0.0.0", "://localhost").Replace("://[::]", "://localhost"), UriKind.Absolute, out var bound))
                return bound.GetLeftPart(UriPartial.Authority);
        return "http://localhost";
    }
}
