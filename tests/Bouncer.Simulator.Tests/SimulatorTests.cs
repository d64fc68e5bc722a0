using Microsoft.Playwright;

namespace Bouncer.Simulator.Tests;

/// <summary>Each scenario of the simulator clicked through in real Chromium; outcomes read from the page.</summary>
public sealed class SimulatorTests(SimulatorFixture fixture) : IClassFixture<SimulatorFixture>, IAsyncLifetime
{
    private IBrowserContext _context = null!;
    private IPage _page = null!;
    private readonly List<string> _consoleErrors = [];

    public async Task InitializeAsync()
    {
        _context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl });
        _page = await _context.NewPageAsync();
        // Chromium logs every 4xx answer to fetch as "Failed to load resource"; the scenarios expect 401s
        // (that is the point), so only those lines are let through. Script errors all count.
        _page.Console += (_, message) =>
        {
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource: the server responded with a status of 40", StringComparison.Ordinal))
                _consoleErrors.Add(message.Text);
        };
        _page.PageError += (_, error) => _consoleErrors.Add(error);
        await _page.GotoAsync("/");
        await Assertions.Expect(_page.Locator("#demo-status")).ToContainTextAsync("Demo controls on");
    }

    public async Task DisposeAsync() => await _context.CloseAsync();

    private ILocator Column(string strategy) => _page.Locator($"#col-{strategy}");

    private async Task Click(string strategy, string action)
    {
        var column = Column(strategy);
        var before = await column.Locator(".timeline li").CountAsync();
        await column.Locator($"button[data-action='{action}']").ClickAsync();
        // Each action adds at least one step; wait for it so the next assertion reads the answer.
        await Assertions.Expect(column.Locator(".timeline li")).Not.ToHaveCountAsync(before);
        await Assertions.Expect(column.Locator($"button[data-action='{action}']")).ToBeEnabledAsync();
    }

    private Task<string> LatestAnswer(string strategy) => Column(strategy).Locator(".timeline li .status").First.InnerTextAsync();

    private async Task<int> Counter(string strategy, string name) =>
        int.Parse(await Column(strategy).Locator($"[data-counter='{name}']").InnerTextAsync());

    private Task Screenshot(string name) =>
        _page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(fixture.ScreenshotFolder, name + ".png"), FullPage = true });

    private async Task SetPush(bool on)
    {
        var toggle = _page.Locator("#push-toggle");
        if (await toggle.IsCheckedAsync() != on)
        {
            var response = _page.WaitForResponseAsync("**/demo/push");
            await toggle.ClickAsync();
            await response;
        }
        Assert.Equal(on, await toggle.IsCheckedAsync());
    }

    [Fact]
    public async Task Page_Loads_WithoutConsoleErrors()
    {
        await Assertions.Expect(_page.Locator("h1")).ToHaveTextAsync("Bouncer simulator");
        await Screenshot("loaded");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Session_EveryRequestIsALookup_RevokeRefusesAtOnce()
    {
        await Click("session", "login");
        Assert.StartsWith("204", await LatestAnswer("session"));
        for (var i = 0; i < 3; i++)
        {
            await Click("session", "request");
            Assert.Equal("200 OK", await LatestAnswer("session"));
        }
        Assert.Equal(3, await Counter("session", "lookups"));
        Assert.Equal(0, await Counter("session", "signatures"));
        Assert.True(await Counter("session", "bytes") >= 3 * 43);

        await Click("session", "revoke");
        await Click("session", "request");

        Assert.Equal("401 session_invalid", await LatestAnswer("session"));
        await Screenshot("session-revoked");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Jwt_PushOff_RevokedTokenStillWorks_TheParadox()
    {
        await SetPush(false);
        try
        {
            await Click("jwt", "login");
            await Click("jwt", "request");
            Assert.Equal("200 OK", await LatestAnswer("jwt"));

            await Click("jwt", "revoke");
            await Click("jwt", "request");

            Assert.Equal("200 OK", await LatestAnswer("jwt"));
            await Assertions.Expect(_page.Locator("[data-lifetime]")).ToContainTextAsync("valid for");
            Assert.Equal(0, await Counter("jwt", "lookups"));
            Assert.Equal(0, await Counter("jwt", "store"));
            await Screenshot("jwt-paradox");
        }
        finally
        {
            await SetPush(true);
        }
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Jwt_PushOn_RevokedTokenRefusedAtOnce_WithZeroLookups()
    {
        await SetPush(true);
        await Click("jwt", "login");
        await Click("jwt", "request");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));

        await Click("jwt", "revoke");
        await Click("jwt", "request");

        Assert.Equal("401 token_revoked", await LatestAnswer("jwt"));
        Assert.Equal(0, await Counter("jwt", "lookups"));
        Assert.Equal(0, await Counter("jwt", "store"));
        Assert.True(await Counter("jwt", "signatures") >= 2);
        await Screenshot("jwt-push-revoked");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Expire_BothRefuse_ForDifferentReasons()
    {
        await Click("session", "login");
        await Click("jwt", "login");
        await Click("session", "expire");
        await Click("jwt", "expire");

        await Click("session", "request");
        await Click("jwt", "request");

        Assert.Equal("401 session_invalid", await LatestAnswer("session"));
        Assert.Equal("401 token_expired", await LatestAnswer("jwt"));
        await Screenshot("expired");
    }

    [Fact]
    public async Task Jwt_RefreshRotatesViaCookie_AndTheTokenStaysOutOfStorage()
    {
        await Click("jwt", "login");
        var first = await _page.Locator("#inspector pre").Nth(1).InnerTextAsync();
        await Click("jwt", "refresh");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));
        await Click("jwt", "request");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));

        var stored = await _page.EvaluateAsync<string>("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie");
        Assert.DoesNotContain("eyJ", stored);
        Assert.DoesNotContain("bouncer", stored);
        var cookies = await _context.CookiesAsync();
        var refresh = Assert.Single(cookies, c => c.Name == "__Secure-bouncer-refresh");
        Assert.True(refresh.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, refresh.SameSite);
        Assert.Equal("/auth/refresh", refresh.Path);
        Assert.Contains("\"sub\"", first);
    }

    [Fact]
    public async Task Inspector_ShowsDecodedToken_MarkedUnverified()
    {
        await Click("jwt", "login");

        await Assertions.Expect(_page.Locator("#inspector-title")).ToContainTextAsync("UNVERIFIED");
        var payload = await _page.Locator("#inspector pre").Nth(1).InnerTextAsync();
        Assert.Contains("\"iss\"", payload);
        Assert.Contains("demo-jwt-", payload);
        Assert.Contains("\"typ\": \"at+jwt\"", await _page.Locator("#inspector pre").First.InnerTextAsync());
    }

    [Fact]
    public async Task DecisionHelper_RecommendsAModeAndItsSnippet()
    {
        await Assertions.Expect(_page.Locator("#recommendation pre")).ToHaveAttributeAsync("data-snippet", "session");
        await _page.GetByLabel("Several services verify identity").CheckAsync();
        await Assertions.Expect(_page.Locator("#recommendation pre")).ToHaveAttributeAsync("data-snippet", "jwt");
        await _page.GetByLabel("Access must end the moment it is revoked").CheckAsync();

        await Assertions.Expect(_page.Locator("#recommendation pre")).ToHaveAttributeAsync("data-snippet", "hybrid");
        await Assertions.Expect(_page.Locator("#recommendation pre")).ToContainTextAsync("BouncerMode.Hybrid");
    }

    [Fact]
    public async Task Keyboard_Alone_CanLogInAndRequest()
    {
        var login = Column("session").Locator("button[data-action='login']");
        await login.FocusAsync();
        await _page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(Column("session").Locator(".timeline li .status").First).ToHaveTextAsync("204 OK");
        await _page.Keyboard.PressAsync("Tab");
        await _page.Keyboard.PressAsync("Enter");

        await Assertions.Expect(Column("session").Locator(".timeline li .status").First).ToHaveTextAsync("200 OK");
    }

    [Fact]
    public async Task Phone_Viewport_HasNoHorizontalScroll()
    {
        await _page.SetViewportSizeAsync(375, 740);
        await _page.ReloadAsync();
        await Assertions.Expect(_page.Locator("#demo-status")).ToContainTextAsync("Demo controls on");

        var overflow = await _page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");

        Assert.True(overflow <= 0, $"page is {overflow}px wider than a phone screen");
        await Screenshot("phone");
        Assert.Empty(_consoleErrors);
    }
}
