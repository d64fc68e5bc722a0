using System.Net;
using System.Net.Http.Json;
using Bouncer.Access;
using Bouncer.AspNetCore;
using Microsoft.Extensions.DependencyInjection;
using Bouncer.Server.Tests.Readme;

namespace Bouncer.Server.Tests;

/// <summary>
/// The README's "In an ASP.NET Core app" block, compiled from README.md itself (see the project file), run on real
/// Kestrel and SQLite: a session and a JWT both reach the app's own protected route, and its role-protected route
/// answers 403 without the role and 200 once the engine grants it.
/// </summary>
public sealed class ReadmeSnippetTests
{
    [Fact]
    public async Task ReadmeApp_OnSqlite_AcceptsASessionAndAJwt()
    {
        var app = ReadmeApp.Build(["--urls", "http://127.0.0.1:0", "--environment", "Production"]);
        await using (app)
        {
            await app.StartAsync();
            try
            {
                using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
                var user = "readme-" + Guid.NewGuid().ToString("N")[..8];
                using (var register = await http.PostAsJsonAsync("/auth/register", new { username = user, password = Passwords.Good }))
                    Assert.Equal(HttpStatusCode.Created, register.StatusCode);

                using var session = await http.PostAsJsonAsync("/auth/login", new { username = user, password = Passwords.Good, mode = "session" });
                var cookie = SetCookie.Find(session, BouncerDefaults.SessionCookieName);
                Assert.NotNull(cookie);
                using (var orders = await http.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/orders", cookie.Value)))
                    Assert.Equal(user, await orders.Content.ReadAsStringAsync());

                using var jwt = await http.PostAsJsonAsync("/auth/login", new { username = user, password = Passwords.Good, mode = "jwt" });
                var pair = await TokenPair.ReadAsync(jwt);
                using (var orders = await http.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/orders", pair.AccessToken)))
                    Assert.Equal(user, await orders.Content.ReadAsStringAsync());
                using (var anonymous = await http.GetAsync("/orders"))
                    Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

                using (var reports = await http.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/reports", cookie.Value)))
                    Assert.Equal(HttpStatusCode.Forbidden, reports.StatusCode);
                using (var reports = await http.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/reports", pair.AccessToken)))
                    Assert.Equal(HttpStatusCode.Forbidden, reports.StatusCode);
                await app.Services.GetRequiredService<AccessManager>().SetRolesAsync(user, "admin", default);
                using (var reports = await http.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/reports", cookie.Value)))
                    Assert.Equal(HttpStatusCode.OK, reports.StatusCode);
                // Tokens minted before the change are refused; a new login carries the role.
                using var again = await http.PostAsJsonAsync("/auth/login", new { username = user, password = Passwords.Good, mode = "jwt" });
                var admin = await TokenPair.ReadAsync(again);
                using (var reports = await http.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/reports", admin.AccessToken)))
                    Assert.Equal(HttpStatusCode.OK, reports.StatusCode);
            }
            finally
            {
                await app.StopAsync();
            }
        }
        // The snippet names a relative file: the test's working folder holds it for this run only.
        foreach (var file in Directory.GetFiles(".", "bouncer.db*")) File.Delete(file);
    }
}
