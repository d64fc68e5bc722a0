using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bouncer.Verifier.Tests;

/// <summary>A small downstream service on Kestrel (free loopback port) using AddBouncerVerifier and one protected endpoint.</summary>
public sealed class Downstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http;

    private Downstream(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
        _http = new HttpClient { BaseAddress = new Uri(baseUrl) };
    }

    public string BaseUrl { get; }
    public DownstreamVerifier Verifier => _app.Services.GetRequiredService<DownstreamVerifier>();

    public static async Task<Downstream> StartAsync(Action<BouncerVerifierOptions> configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddBouncerVerifier(configure);
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/whoami", (ClaimsPrincipal user) => user.FindFirstValue(BouncerVerifierClaims.Subject)).RequireAuthorization();
        app.MapGet("/items/{id}", (string id) => id).RequireAuthorization();
        app.MapGet("/admin-only", (ClaimsPrincipal user) => user.FindFirstValue(BouncerVerifierClaims.Subject)).RequireAuthorization(p => p.RequireRole("admin"));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Downstream(app, address);
    }

    /// <summary>Calls the protected endpoint: (status, subject on 200 or reason on 401).</summary>
    public async Task<(HttpStatusCode Status, string? Value)> CallAsync(string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode == HttpStatusCode.OK) return (response.StatusCode, body);
        using var problem = JsonDocument.Parse(body);
        return (response.StatusCode, problem.RootElement.TryGetProperty("reason", out var r) ? r.GetString() : null);
    }

    public async Task<HttpResponseMessage> SendAsync(string? token, string path = "/whoami")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await _http.SendAsync(request);
    }

    /// <summary>Polls until the call answers <paramref name="status"/> (and reason/subject <paramref name="value"/> when given).</summary>
    public async Task<(HttpStatusCode Status, string? Value)> PollUntilAsync(string token, HttpStatusCode status, string? value, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        (HttpStatusCode, string?) last;
        do
        {
            last = await CallAsync(token);
            if (last.Item1 == status && (value is null || last.Item2 == value)) return last;
            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);
        return last;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
