using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Bouncer.Tests;

namespace Bouncer.Packaging.Tests;

/// <summary>
/// Issue 15's "adopt in ten minutes", as a new user does it: every package packed into a temp local feed, a fresh
/// <c>dotnet new web</c> app whose Program.cs is the README's block verbatim, built on the packages (from the feed,
/// dependencies from the machine's normal NuGet source) and run on SQLite; then over HTTP a session (cookie) and a JWT
/// (bearer) reach its protected route, and its role-protected route answers 403 until the <c>bouncer</c> tool,
/// installed from the same feed, grants the role. Each run packs a version of its own, so no stale copy in the global
/// packages folder can stand in for this build; that copy is deleted afterwards.
/// </summary>
public sealed class PackAndConsumeTests : IDisposable
{
    private const string Password = "correct horse battery";
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(10);

    private static readonly string[] Packages =
    [
        "Bouncer.Core", "Bouncer.AspNetCore", "Bouncer.Stores.Sqlite", "Bouncer.Stores.Redis", "Bouncer.Stores.Postgres",
        "Bouncer.Verifier", "Bouncer.Cli",
    ];

    private static readonly string Root = typeof(PackAndConsumeTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!;

    private readonly string _temp = Directory.CreateTempSubdirectory("bouncer-pack-").FullName;
    private readonly string _version;

    public PackAndConsumeTests()
    {
        var prefix = Regex.Match(File.ReadAllText(Path.Combine(Root, "src", "Directory.Build.props")), "<VersionPrefix>([^<]+)</VersionPrefix>").Groups[1].Value;
        Assert.Matches(@"^\d+\.\d+\.\d+$", prefix);
        _version = $"{prefix}-packtest.{Guid.NewGuid():N}"[..(prefix.Length + 21)];
    }

    public void Dispose()
    {
        try { Directory.Delete(_temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in Packages)
        {
            var folder = Path.Combine(cache, id.ToLowerInvariant(), _version);
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [ReleaseFact]
    public async Task Packages_FromALocalFeed_RunTheReadmeAppAndTheTool()
    {
        var feed = Directory.CreateDirectory(Path.Combine(_temp, "feed")).FullName;
        foreach (var id in Packages)
            await DotnetCli.RunAsync(Root, Step, "dotnet", "pack", Path.Combine(Root, "src", id, id + ".csproj"), "-c", "Release", "-o", feed,
                "-p:PackageVersion=" + _version, "-nologo", "-v", "q");
        foreach (var id in Packages) CheckPackage(feed, id);

        // A fresh app, as `dotnet new web` makes it, referencing the packages; the local feed beside the user's sources.
        var appFolder = Path.Combine(_temp, "app");
        await DotnetCli.RunAsync(_temp, Step, "dotnet", "new", "web", "-n", "PackTestApp", "-o", appFolder, "--no-restore");
        File.WriteAllText(Path.Combine(_temp, "nuget.config"),
            $"""<?xml version="1.0" encoding="utf-8"?><configuration><packageSources><add key="bouncer-local" value="{feed}" /></packageSources></configuration>""");
        var project = Path.Combine(appFolder, "PackTestApp.csproj");
        var csproj = XDocument.Load(project);
        csproj.Root!.Add(new XElement("ItemGroup",
            new XElement("PackageReference", new XAttribute("Include", "Bouncer.AspNetCore"), new XAttribute("Version", _version)),
            new XElement("PackageReference", new XAttribute("Include", "Bouncer.Stores.Sqlite"), new XAttribute("Version", _version))));
        csproj.Save(project);
        File.WriteAllText(Path.Combine(appFolder, "Program.cs"), ReadmeProgram());
        await DotnetCli.RunAsync(appFolder, Step, "dotnet", "build", "-c", "Release", "-nologo", "-v", "q");

        // The tool, from the same feed.
        var tools = Path.Combine(_temp, "tools");
        await DotnetCli.RunAsync(_temp, Step, "dotnet", "tool", "install", "Bouncer.Cli", "--tool-path", tools, "--add-source", feed, "--version", _version);
        var bouncer = Path.Combine(tools, OperatingSystem.IsWindows() ? "bouncer.exe" : "bouncer");
        var help = await DotnetCli.RunAsync(_temp, Step, bouncer, "--help");
        foreach (var command in new[] { "users", "sessions", "audit", "token", "keys" })
            Assert.Matches($@"(?m)^\s+{command}\b", help);

        var data = Directory.CreateDirectory(Path.Combine(_temp, "data")).FullName;
        using var app = await AppProcess.StartAsync(Path.Combine(appFolder, "bin", "Release", "net10.0", "PackTestApp.dll"), data);
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = new Uri(app.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            using (var register = await http.PostAsJsonAsync("/auth/register", new { username = "alice", password = Password }))
                Assert.Equal(HttpStatusCode.Created, register.StatusCode);

            // Session mode: the cookie (sent by hand: __Host- cookies are Secure, which a cookie container keeps off http).
            using var sessionLogin = await http.PostAsJsonAsync("/auth/login", new { username = "alice", password = Password, mode = "session" });
            Assert.Equal(HttpStatusCode.NoContent, sessionLogin.StatusCode);   // a session login answers with the cookie only
            var cookie = sessionLogin.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).Single(c => c.StartsWith("__Host-bouncer=", StringComparison.Ordinal));
            Assert.Equal("alice", await GetAsync(http, "/orders", cookie: cookie, expect: HttpStatusCode.OK));

            // JWT mode: the bearer token.
            var token = await LoginJwtAsync(http);
            Assert.Equal("alice", await GetAsync(http, "/orders", bearer: token, expect: HttpStatusCode.OK));
            await GetAsync(http, "/orders", expect: HttpStatusCode.Unauthorized);

            // The role-protected route: 403 without the role, in both modes.
            await GetAsync(http, "/reports", cookie: cookie, expect: HttpStatusCode.Forbidden);
            await GetAsync(http, "/reports", bearer: token, expect: HttpStatusCode.Forbidden);

            // The tool grants it on the same file; the running app learns it from the revocation log (polled every 250 ms).
            await DotnetCli.RunAsync(_temp, Step, bouncer, "users", "roles", "alice", "--role", "admin", "--connection", Path.Combine(data, "bouncer.db"));
            var granted = HttpStatusCode.Forbidden;
            for (var attempt = 0; attempt < 100 && granted != HttpStatusCode.OK; attempt++)
            {
                using var request = Get("/reports", cookie, null);
                using var response = await http.SendAsync(request);
                granted = response.StatusCode;
                if (granted != HttpStatusCode.OK) await Task.Delay(200);
            }
            Assert.True(granted == HttpStatusCode.OK, $"the session never saw the granted role ({granted}):\n{app.OutputTail}");
            Assert.Equal("for admins", await GetAsync(http, "/reports", bearer: await LoginJwtAsync(http), expect: HttpStatusCode.OK));
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException("The app failed:\n" + app.OutputTail, ex);
        }
    }

    // The csharp block of README.md's "## In an ASP.NET Core app" section, byte for byte.
    private static string ReadmeProgram()
    {
        var readme = File.ReadAllText(Path.Combine(Root, "README.md")).ReplaceLineEndings("\n");
        var match = Regex.Match(readme, @"\n## In an ASP\.NET Core app\n(?:(?!\n## ).)*?\n```csharp\n(.*?)\n```\n", RegexOptions.Singleline);
        Assert.True(match.Success, "README.md has no csharp block in '## In an ASP.NET Core app'");
        return match.Groups[1].Value + "\n";
    }

    private void CheckPackage(string feed, string id)
    {
        var nupkg = Path.Combine(feed, $"{id}.{_version}.nupkg");
        Assert.True(File.Exists(nupkg), $"{id} was not packed");
        Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"{id} has no symbol package");
        using var zip = ZipFile.OpenRead(nupkg);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        var nuspec = XDocument.Load(nuspecStream).Root!;
        XNamespace ns = nuspec.Name.Namespace;
        var metadata = nuspec.Element(ns + "metadata")!;
        string? Meta(string name) => metadata.Element(ns + name)?.Value;
        Assert.Equal("Bouncer contributors", Meta("authors"));
        Assert.Equal("MIT", Meta("license"));
        Assert.Equal("README.md", Meta("readme"));
        Assert.Contains("README.md", entries);
        Assert.Contains("LICENSE", entries);
        Assert.False(string.IsNullOrWhiteSpace(Meta("projectUrl")), $"{id}: no project URL");
        Assert.Contains("authentication", Meta("tags") ?? "");
        Assert.NotEqual("Package Description", Meta("description"));
        Assert.Contains("Bouncer", Meta("description") ?? "");
        // SourceLink: the package names the commit it was built from.
        Assert.Matches("^[0-9a-f]{40}$", metadata.Element(ns + "repository")?.Attribute("commit")?.Value ?? "");
        if (id == "Bouncer.Cli")
        {
            Assert.Equal("DotnetTool", metadata.Element(ns + "packageTypes")?.Element(ns + "packageType")?.Attribute("name")?.Value);
            Assert.Contains("tools/net10.0/any/bouncer.dll", entries);
        }
        else
        {
            Assert.Contains($"lib/net10.0/{id}.dll", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries);
        }
    }

    private static async Task<string> LoginJwtAsync(HttpClient http)
    {
        using var login = await http.PostAsJsonAsync("/auth/login", new { username = "alice", password = Password, mode = "jwt" });
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        using var body = JsonDocument.Parse(await login.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("access_token").GetString()!;
    }

    private static HttpRequestMessage Get(string path, string? cookie, string? bearer)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (cookie is not null) request.Headers.Add("Cookie", cookie);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    private static async Task<string> GetAsync(HttpClient http, string path, HttpStatusCode expect, string? cookie = null, string? bearer = null)
    {
        using var request = Get(path, cookie, bearer);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expect, $"GET {path}: {(int)response.StatusCode} {body}, expected {(int)expect}");
        return body;
    }
}
