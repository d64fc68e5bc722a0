using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// Bouncer's ASP.NET Core health checks, one per dependency: the store (<see cref="StoreCheck"/>) and the revocation
/// state (<see cref="RevocationCheck"/>), both registered by <c>AddBouncer</c> with the tags <see cref="Tag"/> and
/// <c>ready</c>. Map them with <see cref="MapBouncerHealthChecks"/>, or with the stock
/// <c>app.MapHealthChecks("/healthz")</c> (any response writer; <see cref="WriteResponseAsync"/> is Bouncer's).
/// </summary>
/// <example>
/// <code>
/// app.MapBouncerHealthChecks("/healthz");   // 200 {"status":"ok","store":"up",...}; 503 when a required one is down
/// </code>
/// </example>
public static class BouncerHealthChecks
{
    /// <summary>The store check's registration name.</summary>
    public const string StoreCheck = "bouncer_store";

    /// <summary>The revocation-state check's registration name.</summary>
    public const string RevocationCheck = "bouncer_revocation";

    /// <summary>The tag both checks carry (a filter for <c>HealthCheckOptions.Predicate</c>).</summary>
    public const string Tag = "bouncer";

    /// <summary>
    /// Maps every registered health check (Bouncer's and the app's own) at <paramref name="pattern"/>, answered by
    /// <see cref="WriteResponseAsync"/>: 200 when all are Healthy or Degraded, 503 when one is Unhealthy. Anonymous
    /// and never cached.
    /// </summary>
    public static IEndpointConventionBuilder MapBouncerHealthChecks(this IEndpointRouteBuilder endpoints, string pattern = "/healthz") =>
        // Anonymous even under an app's FallbackPolicy: a load balancer's probe carries no credential.
        endpoints.MapHealthChecks(pattern, new HealthCheckOptions { ResponseWriter = WriteResponseAsync }).AllowAnonymous();

    /// <summary>
    /// Writes a health report as JSON: <c>status</c> (<c>ok</c>, <c>degraded</c> or <c>unavailable</c>), the
    /// deployment's <c>mode</c>, <c>store</c> (<c>up</c>/<c>down</c>), <c>revocation</c> (<c>fresh</c>/<c>stale</c>),
    /// and <c>checks</c>: each registered check's status and duration. No exception text, host or path: the answer is public.
    /// </summary>
    public static async Task WriteResponseAsync(HttpContext context, HealthReport report)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(report);
        var options = context.RequestServices.GetService<IOptions<BouncerOptions>>()?.Value;
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("status", Status(report.Status));
        if (options is not null) json.WriteString("mode", options.Mode.ToString().ToLowerInvariant());
        if (report.Entries.TryGetValue(StoreCheck, out var store)) json.WriteString("store", store.Status == HealthStatus.Healthy ? "up" : "down");
        if (report.Entries.TryGetValue(RevocationCheck, out var revocation)) json.WriteString("revocation", revocation.Status == HealthStatus.Healthy ? "fresh" : "stale");
        json.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject(name);
            json.WriteString("status", Status(entry.Status));
            json.WriteNumber("duration_ms", Math.Round(entry.Duration.TotalMilliseconds, 1));
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static string Status(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "ok",
        HealthStatus.Degraded => "degraded",
        _ => "unavailable",
    };

    internal static void Register(IServiceCollection services) =>
        services.AddHealthChecks()
            .AddCheck<BouncerStoreHealthCheck>(StoreCheck, HealthStatus.Unhealthy, [Tag, "ready"])
            .AddCheck<BouncerRevocationHealthCheck>(RevocationCheck, HealthStatus.Unhealthy, [Tag, "ready"]);
}
