using System.Net;
using System.Text.Json;
using Bouncer.Revocation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// <c>GET /auth/revocations</c>: the revocation log for downstream verifiers, as a long-poll from a cursor, with
/// optional heartbeats so a verifier tells a quiet feed from a hung connection in seconds.
/// </summary>
public static class BouncerRevocationFeedEndpoints
{
    /// <summary>Response header of a feed answer that carries heartbeats (asked for with <c>heartbeat=1</c>).</summary>
    public const string FeedHeartbeatHeader = "Bouncer-Feed-Heartbeat";

    /// <summary>Maps the revocation feed.</summary>
    public static IEndpointRouteBuilder MapBouncerRevocationFeed(this IEndpointRouteBuilder app)
    {
        if (!BouncerEndpointServices.Ready(app)) return app;
        var sp = app.ServiceProvider;
        var options = sp.GetRequiredService<IOptions<BouncerOptions>>().Value;
        var channel = sp.GetRequiredService<BouncerStores>().Revocations;
        var listener = sp.GetRequiredService<RevocationListener>();
        var time = sp.GetRequiredService<TimeProvider>();

        app.MapGet("/auth/revocations", async (HttpContext ctx, long? after, int? wait, int? heartbeat, CancellationToken ct) =>
        {
            // The configured key, else the deployment's generated one: the feed is never open by default.
            var key = options.RevocationFeedKey is { Length: > 0 } configured ? configured : sp.GetRequiredService<RevocationFeedKey>().Value;
            bool loopback = options.RevocationFeedAccess == RevocationFeedAccess.KeyOrLoopback && ctx.Connection.RemoteIpAddress is { } address && IPAddress.IsLoopback(address);
            if (!loopback && !BouncerHttp.SecretEquals(ctx.Request.Headers["X-Bouncer-Feed-Key"].ToString(), key))
                return BouncerProblems.Result(401, FailureCodes.FeedKeyInvalid, "The revocation feed needs the X-Bouncer-Feed-Key header (Bouncer:RevocationFeedKey, or `bouncer feed key`).");
            var cursor = Math.Max(0, after ?? 0);
            var entries = await channel.ReadAfterAsync(cursor, 1000, ct);
            // Long-poll: hold an empty answer until something is pushed or the wait ends. The log is
            // re-read at least every 5 s, so a push that raced the first read is never waited out.
            var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(Math.Clamp(wait ?? 25, 0, 60));
            // With heartbeat=1 a held answer starts at once and gets a space (insignificant JSON whitespace) every
            // second, so a verifier tells a quiet feed from a hung connection in seconds rather than at its timeout.
            bool beating = heartbeat == 1 && entries.Count == 0 && time.GetUtcNow() < deadline;
            if (beating)
            {
                ctx.Response.ContentType = "application/json; charset=utf-8";
                ctx.Response.Headers[FeedHeartbeatHeader] = "1";
                // Ask proxies to pass the beats on as they come (nginx buffers and may compress otherwise).
                ctx.Response.Headers["X-Accel-Buffering"] = "no";
                ctx.Response.Headers.CacheControl = "no-store, no-transform";
                await ctx.Response.StartAsync(ct);
            }
            var lastRead = time.GetUtcNow();
            while (entries.Count == 0 && time.GetUtcNow() < deadline && !ct.IsCancellationRequested)
            {
                await listener.WaitForNextAsync(TimeSpan.FromSeconds(1), ct);
                // Every held poll re-reading the log each second would cost one store read per waiter per second.
                // This instance's own listener knows how far the log goes: read when it has seen past this cursor
                // (or is not connected, so cannot tell), and every 5 s regardless as a safety net.
                var now = time.GetUtcNow();
                if (!listener.IsConnected || listener.Cursor > cursor || now - lastRead >= TimeSpan.FromSeconds(5))
                {
                    lastRead = now;
                    entries = await channel.ReadAfterAsync(cursor, 1000, ct);
                }
                if (beating && entries.Count == 0)
                {
                    await ctx.Response.Body.WriteAsync(" "u8.ToArray(), ct);
                    await ctx.Response.Body.FlushAsync(ct);
                }
            }
            var page = new
            {
                cursor = entries.Count > 0 ? entries[^1].Cursor : cursor,
                revocations = entries.Select(e => new
                {
                    cursor = e.Cursor,
                    // A sign-out is a user cut-off to a token verifier (its session part concerns the instances only),
                    // so the feed keeps to the kinds every verifier version reads.
                    kind = e.Revocation.Kind == RevocationKind.SignOut ? "user" : e.Revocation.Kind.ToString().ToLowerInvariant(),
                    subject = e.Revocation.Subject,
                    at = e.Revocation.At.ToUnixTimeMilliseconds(),
                    expires_at = e.Revocation.ExpiresAt.ToUnixTimeMilliseconds(),
                }),
            };
            if (!beating) return Results.Json(page);
            await JsonSerializer.SerializeAsync(ctx.Response.Body, page, JsonSerializerOptions.Web, ct);
            return Results.Empty;
        });
        return app;
    }
}
