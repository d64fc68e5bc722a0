using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Bouncer.Server.Tests;

/// <summary>
/// Bouncer's spans seen through OpenTelemetry's in-memory exporter: login, refresh, verify, session lookup and
/// revocation apply, tagged with outcomes and failure codes, never with a credential or a user name.
/// </summary>
public sealed class TracingTests
{
    [Fact]
    public async Task Spans_EveryOperation_ExportedWithOutcomesAndNoSecrets()
    {
        var exported = new List<Activity>();
        // Always on: ASP.NET Core's own request activity exists here unsampled (no instrumentation subscribed to it), and
        // the default parent-based sampler would drop its children; an app exporting traces adds the ASP.NET Core
        // instrumentation, which samples the request.
        using var tracing = Sdk.CreateTracerProviderBuilder().SetSampler(new AlwaysOnSampler()).AddSource(BouncerActivities.SourceName)
            .AddInMemoryExporter(exported).Build();
        await using var host = new BouncerHost();
        var user = "trace" + Guid.NewGuid().ToString("N")[..8];

        var pair = await host.LoginJwtAsync(user);
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        using (var forged = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken[..^4] + "AAAA")))
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        string refreshed;
        using (var refresh = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
            refreshed = (await refresh.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        }
        var session = await host.LoginSessionAsync(user, register: false);
        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", session.Cookie)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        using (var logout = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", session.Cookie)))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        tracing.ForceFlush();

        Activity[] spans;
        lock (exported) spans = [.. exported];
        Assert.Contains(spans, s => s.OperationName == BouncerActivities.Login && Tag(s, BouncerActivities.OutcomeTag) == "accepted");
        Assert.Contains(spans, s => s.OperationName == BouncerActivities.Verify && Tag(s, BouncerActivities.OutcomeTag) == "accepted");
        Assert.Contains(spans, s => s.OperationName == BouncerActivities.Verify && Tag(s, BouncerActivities.ReasonTag) == FailureCodes.BadSignature);
        Assert.Contains(spans, s => s.OperationName == BouncerActivities.Refresh && Tag(s, BouncerActivities.OutcomeTag) == "issued");
        Assert.Contains(spans, s => s.OperationName == BouncerActivities.SessionLookup && Tag(s, BouncerActivities.OutcomeTag) == "found");
        Assert.Contains(spans, s => s.OperationName == BouncerActivities.RevocationApply && Tag(s, BouncerActivities.KindTag) == "session");
        Assert.All(spans.Where(s => s.Source.Name == BouncerActivities.SourceName), s => Assert.Equal(ActivityKind.Internal, s.Kind));

        string[] secrets = [pair.AccessToken, pair.RefreshToken!, refreshed, session.Cookie, Passwords.Good, user];
        foreach (var span in spans)
            foreach (var (key, value) in span.TagObjects)
                foreach (var secret in secrets)
                    Assert.DoesNotContain(secret, $"{span.DisplayName} {key}={value} {span.StatusDescription}");
    }

    private static string? Tag(Activity span, string key) => span.GetTagItem(key) as string;
}
