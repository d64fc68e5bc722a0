using Bouncer.AspNetCore;
using Bouncer.Server;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    // Defaults never depend on the current folder: static files come from next to the binary.
    ContentRootPath = AppContext.BaseDirectory,
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

builder.Services.AddBouncer(o =>
{
    section.Bind(o);
    o.Demo = builder.Environment.IsDevelopment() || section.GetValue<bool>("Demo");
    o.BootstrapAdmin ??= section["BootstrapAdmin"];
}).UseStores(sp => StoreSetup.Open(storeKind, connection, section["StorePrefix"], sp.GetRequiredService<TimeProvider>()));
builder.Services.AddSingleton<PrometheusExporter>();
// A start-up fault is reported once, as one line, by the catch below; the host's own report of it
// carries a stack trace.
builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
builder.Services.AddProblemDetails();

try
{
    await RunAsync(builder);
    return 0;
}
catch (Exception ex) when (ex is InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException or Bouncer.Tokens.KeyLoadException or ArgumentException)
{
    // A configuration or start-up fault: one line for the operator, exit code 2, no stack trace.
    Console.Error.WriteLine("bouncer: " + ex.Message.Split('\n')[0].Split(" - Last Connection Exception")[0]);
    return 2;
}

static async Task RunAsync(WebApplicationBuilder builder)
{
    var app = builder.Build();
    // Unhandled faults become a problem document without details: never a stack trace to the client.
    app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = _ => StatusCodes.Status500InternalServerError });
    app.UseStatusCodePages();
    app.UseDefaultFiles();
    app.UseStaticFiles();
    app.UseBouncer();
    app.MapBouncerEndpoints();
    app.MapDemoEndpoints();
    var exporter = app.Services.GetRequiredService<PrometheusExporter>();
    app.MapGet("/metrics", () => Results.Text(exporter.Render(), "text/plain; version=0.0.4"));
    await app.RunAsync();
}

/// <summary>Entry point type, public for WebApplicationFactory.</summary>
public partial class Program;
