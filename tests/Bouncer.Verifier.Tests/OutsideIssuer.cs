using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bouncer.Verifier.Tests;

/// <summary>
/// An outside OIDC issuer: an RSA key made with the BCL (not Bouncer's signer), a tiny Kestrel app serving its JWKS
/// without <c>alg</c> (as many real ones do) and counting requests, and a token minter with free-form headers.
/// </summary>
public sealed class OutsideIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RSA _rsa;
    private int _jwksRequests;

    private OutsideIssuer(WebApplication app, RSA rsa, string issuer, string kid, string jwksUri)
    {
        _app = app;
        _rsa = rsa;
        Issuer = issuer;
        Kid = kid;
        JwksUri = jwksUri;
    }

    public string Issuer { get; }
    public string Kid { get; }
    public string JwksUri { get; }
    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    public static async Task<OutsideIssuer> StartAsync(string issuer, string kid)
    {
        var rsa = RSA.Create(2048);
        var p = rsa.ExportParameters(false);
        var jwks = JsonSerializer.Serialize(new
        {
            keys = new object[]
            {
                // An encryption key beside the signing key, as real JWKS often have: it must be skipped, not fail the set.
                new { kty = "RSA", use = "enc", kid = kid + "-enc", n = Base64Url.EncodeToString(p.Modulus), e = Base64Url.EncodeToString(p.Exponent) },
                new { kty = "RSA", use = "sig", kid, n = Base64Url.EncodeToString(p.Modulus), e = Base64Url.EncodeToString(p.Exponent) },
            },
        });
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        OutsideIssuer? self = null;
        app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref self!._jwksRequests);
            return Results.Content(jwks, "application/json");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new OutsideIssuer(app, rsa, issuer, kid, address + "/jwks");
        return self;
    }

    /// <summary>Configuration trusting this issuer.</summary>
    public TrustedIssuer Trusted(string audience) =>
        new() { Issuer = Issuer, JwksUri = JwksUri, Audience = audience, Algorithms = ["RS256"] };

    /// <summary>An RS256 token signed with this issuer's key; header and payload members as given.</summary>
    public string Mint(string audience, string? iss = null, string? typ = "JWT", string? kid = null, string? jku = null, string sub = "outside-user",
        IReadOnlyDictionary<string, object>? extraHeader = null)
    {
        var header = new Dictionary<string, object> { ["alg"] = "RS256", ["kid"] = kid ?? Kid };
        if (typ is not null) header["typ"] = typ;
        if (jku is not null) header["jku"] = jku;
        foreach (var (name, value) in extraHeader ?? new Dictionary<string, object>()) header[name] = value;
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new Dictionary<string, object> { ["iss"] = iss ?? Issuer, ["sub"] = sub, ["aud"] = audience, ["iat"] = now, ["exp"] = now + 300 };
        var input = B64(header) + "." + B64(payload);
        var signature = _rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    private static string B64(object value) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(value));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _rsa.Dispose();
    }
}
