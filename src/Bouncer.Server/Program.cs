using Bouncer.AspNetCore;
using Bouncer.Server;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

// A configuration or start-up fault (unknown store, bad or unreachable connection, refused key file) is
// reported as one line and exit code 2, without the stack trace the runtime would print.
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
{
    if (e.ExceptionObject is not (InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException or Bouncer.Tokens.KeyLoadException or ArgumentException)) return;
    var message = ((Exception)e.ExceptionObject).Message;
    Console.Error.WriteLine("bouncer: " + message.Split('\n')[0].Split(" - Last Connection Exception")[0]);
    Environment.Exit(2);
};

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    // Defaults never depend on the current folder: static files come from next to the binary.
    ContentRootPath = AppContext.BaseDirectory,
});
// Logging defaults, as the lowest-priority configuration source so any explicit setting (appsettings, environment,
// command line) wins: ASP.NET Core's per-request lines (Request starting/finished, endpoint and static file notes) only
// at Warning, since at a thousand requests a second they are gigabytes a day. Start-up (Microsoft.Hosting.Lifetime),
// Bouncer's own categories and the Bouncer.Audit trail keep the Information default.
// Logging:LogLevel:Microsoft.AspNetCore=Information brings the request lines back.
builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
{
    InitialData = [new("Logging:LogLevel:Microsoft.AspNetCore", "Warning")],
});
// --store, --connection, --urls and Bouncer:* settings; the command line wins over environment variables.
builder.Configuration.AddCommandLine(args, new Dictionary<string, string>
{
    ["--store"] = "Bouncer:Store",
    ["--connection"] = "Bouncer:Connection",
    ["--mode"] = "Bouncer:Mode",
    ["--alg"] = "Bouncer:SigningAlgorithm",
});
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
    builder.WebHost.UseUrls("http://127.0.0.1:5000");

var section = builder.Configuration.GetSection("Bouncer");
var storeKind = (section["Store"] ?? "sqlite").ToLowerInvariant();
var connection = section["Connection"];

// Demo controls (the simulator's Expire and push toggle) exist only in this host, in Development or when asked for.
var demo = builder.Environment.IsDevelopment() || section.GetValue<bool>("Demo");
builder.Services.AddBouncer(o =>
{
    section.Bind(o);
    // The simulator shows what the server did per request; elsewhere the headers stay off unless configured.
    if (demo && section["TraceHeaders"] is null) o.TraceHeaders = true;
}).UseStore(storeKind, connection, section["StorePrefix"], section["ListenConnection"]);
if (demo) builder.Services.AddBouncerDemo();
// The Bouncer meter through OpenTelemetry's Prometheus exporter at /metrics; with OTEL_EXPORTER_OTLP_ENDPOINT set, spans
// and metrics also go over OTLP, Bouncer's spans as children of the sampled request span.
var telemetry = builder.Services.AddOpenTelemetry()
    .WithMetrics(m => m.AddMeter(Bouncer.Diagnostics.BouncerMetrics.MeterName).AddPrometheusExporter());
if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
    telemetry.WithTracing(t => t.AddAspNetCoreInstrumentation().AddSource(Bouncer.Diagnostics.BouncerActivities.SourceName)).UseOtlpExporter();
// Behind a reverse proxy every request comes from the proxy's address, and the per-address login limits would
// throttle all users together: Bouncer:TrustedProxies (comma-separated addresses, or * for any) takes the client
// from X-Forwarded-For, one hop, from those proxies only.
var trustedProxies = TrustedProxies.Parse(section["TrustedProxies"]);
if (trustedProxies is not null) builder.Services.Configure<Microsoft.AspNetCore.Builder.ForwardedHeadersOptions>(trustedProxies.Apply);
// A start-up fault is reported once, as one line, by the handler at the top; the host's own report of
// it carries a stack trace.
builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
builder.Services.AddProblemDetails();

var app = builder.Build();
// Unhandled faults become a problem document without details: never a stack trace to the client.
// A malformed or oversized request (bad chunking, an unparsable query value in Development) keeps its 4xx.
app.UseExceptionHandler(new ExceptionHandlerOptions
{
    StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
});
app.UseStatusCodePages();
if (trustedProxies is not null) app.UseForwardedHeaders();
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseBouncer();
app.MapBouncerEndpoints();
if (demo) app.MapDemoEndpoints();
app.MapHostEndpoints();
var metricsAccess = new MetricsAccess(section["MetricsPassword"]);
app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: scrape => scrape.Use(async (ctx, next) =>
{
    if (!metricsAccess.Allows(ctx.Request.Headers.Authorization))
    {
        ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"metrics\"";
        await BouncerProblems.Result(401, "metrics_auth_required", "Scraping needs the metrics user's Basic credentials.").ExecuteAsync(ctx);
        return;
    }
    await next(ctx);
}), optionsName: null);
await app.RunAsync();

/// <summary>Entry point type, public for WebApplicationFactory.</summary>
public partial class Program;
