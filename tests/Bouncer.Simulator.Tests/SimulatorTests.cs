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
    public async Task Jwt_WithoutAToken_SendsNoCredential_AndLeavesTheSessionAlone()
    {
        // The JWT column is a bearer client: holding no token, it must not act through this browser's session cookie.
        await Click("session", "login");
        Assert.StartsWith("204", await LatestAnswer("session"));

        await Click("jwt", "request");
        Assert.Equal("401 credential_missing", await LatestAnswer("jwt"));
        await Click("jwt", "revoke");
        Assert.StartsWith("401", await LatestAnswer("jwt"));
        Assert.Equal(0, await Counter("jwt", "lookups"));

        await Click("session", "request");
        Assert.Equal("200 OK", await LatestAnswer("session"));
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
            // Login and the admin's revoke read and write the store (counted since issue 16); requests never do.
            var store = await Counter("jwt", "store");
            await Click("jwt", "request");
            Assert.Equal("200 OK", await LatestAnswer("jwt"));
            Assert.Equal(store, await Counter("jwt", "store"));

            await Click("jwt", "revoke");
            store = await Counter("jwt", "store");
            await Click("jwt", "request");

            Assert.Equal("200 OK", await LatestAnswer("jwt"));
            await Assertions.Expect(Column("jwt").Locator("[data-lifetime]")).ToContainTextAsync("valid for");
            Assert.Equal(0, await Counter("jwt", "lookups"));
            Assert.Equal(store, await Counter("jwt", "store"));
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
        // Plain JWT by default; the column's own switch adds Bouncer's push for its tokens.
        await _page.Locator("#jwt-push").CheckAsync();
        await Click("jwt", "login");
        // Login and the admin's revoke read and write the store (counted since issue 16); requests never do.
        var store = await Counter("jwt", "store");
        await Click("jwt", "request");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));
        Assert.Equal(store, await Counter("jwt", "store"));

        await Click("jwt", "revoke");
        store = await Counter("jwt", "store");
        await Click("jwt", "request");

        Assert.Equal("401 token_revoked", await LatestAnswer("jwt"));
        Assert.Equal(0, await Counter("jwt", "lookups"));
        Assert.Equal(store, await Counter("jwt", "store"));
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
    public async Task Hybrid_HasTheSameButtonsAndCounters_AndTheSessionColumnNoLongerMints()
    {
        var actions = "button[data-action]";
        Assert.Equal(
            await Column("jwt").Locator(actions).EvaluateAllAsync<string[]>("bs => bs.map(b => b.dataset.action)"),
            await Column("hybrid").Locator(actions).EvaluateAllAsync<string[]>("bs => bs.map(b => b.dataset.action)"));
        Assert.Equal(5, await Column("hybrid").Locator("[data-counter]").CountAsync());
        Assert.Equal(0, await Column("session").Locator("button[data-action='exchange']").CountAsync());
        await Assertions.Expect(Column("hybrid").Locator("#hybrid-note")).ToContainTextAsync("Same user and same session cookie as the Session column");
    }

    [Fact]
    public async Task Hybrid_BearerRequestsCostNoLookup_OneMintServesThem()
    {
        await Click("hybrid", "login");
        Assert.Equal("204 OK", await LatestAnswer("hybrid"));
        await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        // The mint was the session's one lookup; the bearer requests after it add none.
        Assert.Equal(1, await Counter("hybrid", "lookups"));
        var store = await Counter("hybrid", "store");
        var signatures = await Counter("hybrid", "signatures");
        Assert.Equal(1, signatures);

        for (var i = 0; i < 3; i++)
        {
            await Click("hybrid", "request");
            Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        }

        Assert.Equal(1, await Counter("hybrid", "lookups"));
        Assert.Equal(store, await Counter("hybrid", "store"));
        Assert.Equal(signatures + 3, await Counter("hybrid", "signatures"));
        var steps = Column("hybrid").Locator(".timeline li");
        await Assertions.Expect(steps).ToHaveCountAsync(7);   // register, log in, one mint, four requests: no second mint
        var latest = steps.First;
        await Assertions.Expect(latest).ToContainTextAsync("with bearer token");
        await Assertions.Expect(latest.Locator(".did")).ToHaveTextAsync("no session lookup · signature verified · revocation state checked in memory");
        await Assertions.Expect(Column("hybrid").Locator("[data-lifetime]")).ToContainTextAsync("Hybrid token valid for");

        // The inspector shows the minted token: this deployment's audience (the only one /api/me accepts),
        // the session's sid, and the exchange lifetime.
        await Assertions.Expect(_page.Locator("#inspector .source")).ToContainTextAsync("Bouncer hybrid column");
        using var payload = System.Text.Json.JsonDocument.Parse(await _page.Locator("#inspector pre").Nth(1).InnerTextAsync());
        var claims = payload.RootElement;
        Assert.Equal("bouncer", claims.GetProperty("aud").GetString());
        Assert.StartsWith("demo-session-", claims.GetProperty("sub").GetString());
        Assert.True(claims.TryGetProperty("sid", out _));
        Assert.Equal(120, claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64());
        await Screenshot("hybrid-requests");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Hybrid_DpopOn_TheTokenIsBoundToTheBrowsersKey_ACopyIsRefusedFromASecondClient()
    {
        await _page.Locator("#dpop-toggle").CheckAsync();
        await Click("hybrid", "login");
        await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        await Assertions.Expect(Column("hybrid").Locator(".timeline li").First).ToContainTextAsync("with DPoP-bound token");
        // The minted token names the browser's key (RFC 9449 6.1).
        using (var payload = System.Text.Json.JsonDocument.Parse(await _page.Locator("#inspector pre").Nth(1).InnerTextAsync()))
            Assert.Equal(43, payload.RootElement.GetProperty("cnf").GetProperty("jkt").GetString()!.Length);
        // Every request signs a fresh proof: a second request passes too (a replayed jti would not).
        await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));

        await _page.Locator("#dpop-copy").ClickAsync();
        await Assertions.Expect(Column("hybrid")).ToHaveAttributeAsync("data-copied", "refused");

        var answers = Column("hybrid").Locator(".timeline li .status");
        Assert.Equal("401 dpop_key_mismatch", await answers.Nth(0).InnerTextAsync());            // a proof by the second client's own key
        Assert.Equal("401 dpop_bound_token_as_bearer", await answers.Nth(1).InnerTextAsync());   // the copy as a plain bearer token
        // The browser's own client still works: the copies cost it nothing.
        await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        await Screenshot("hybrid-dpop");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Hybrid_DpopOff_ACopiedTokenWorksFromASecondClient()
    {
        await Click("hybrid", "login");
        await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));

        await _page.Locator("#dpop-copy").ClickAsync();

        await Assertions.Expect(Column("hybrid").Locator(".timeline li").First).ToContainTextAsync("Second client: the copied token as Bearer");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        using var payload = System.Text.Json.JsonDocument.Parse(await _page.Locator("#inspector pre").Nth(1).InnerTextAsync());
        Assert.False(payload.RootElement.TryGetProperty("cnf", out _));
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Hybrid_PushOn_RevokeRefusesTheMintedTokenAtOnce()
    {
        await SetPush(true);
        await Click("hybrid", "login");
        await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        var lookups = await Counter("hybrid", "lookups");

        await Click("hybrid", "revoke");
        var afterRevoke = await Counter("hybrid", "lookups");
        await Click("hybrid", "request");

        Assert.Equal("401 token_revoked", await LatestAnswer("hybrid"));
        // Refused from memory: the revoke itself was a session request, the refusal no lookup at all.
        Assert.Equal(lookups + 1, afterRevoke);
        Assert.Equal(afterRevoke, await Counter("hybrid", "lookups"));
        await Assertions.Expect(Column("hybrid").Locator(".timeline li").First).ToContainTextAsync("with bearer token");
        await Screenshot("hybrid-push-revoked");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Hybrid_PushOff_RevokedSessionsTokenStillWorks_UntilItsShortLifeEnds()
    {
        await SetPush(false);
        try
        {
            await Click("hybrid", "login");
            await Click("hybrid", "request");
            Assert.Equal("200 OK", await LatestAnswer("hybrid"));

            await Click("hybrid", "revoke");
            await Click("hybrid", "request");

            // The paradox, bounded: the token outlives its session, but only for the exchange lifetime,
            // and the revoked session mints no more.
            Assert.Equal("200 OK", await LatestAnswer("hybrid"));
            await Assertions.Expect(Column("hybrid").Locator("[data-lifetime]")).ToContainTextAsync(new System.Text.RegularExpressions.Regex("valid for [01] min"));
            using var payload = System.Text.Json.JsonDocument.Parse(await _page.Locator("#inspector pre").Nth(1).InnerTextAsync());
            Assert.Equal(120, payload.RootElement.GetProperty("exp").GetInt64() - payload.RootElement.GetProperty("iat").GetInt64());
            await Screenshot("hybrid-paradox");

            await Click("hybrid", "refresh");
            Assert.Equal("401 session_invalid", await LatestAnswer("hybrid"));
        }
        finally
        {
            await SetPush(true);
        }
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Hybrid_Expire_RefusesTheTokenAsExpired()
    {
        await Click("hybrid", "login");
        await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));

        await Click("hybrid", "expire");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        await Click("hybrid", "request");

        Assert.Equal("401 token_expired", await LatestAnswer("hybrid"));
        await Screenshot("hybrid-expired");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Hybrid_LogOut_EndsTheSessionAndDropsTheToken()
    {
        await Click("hybrid", "login");
        await Click("hybrid", "request");
        await Click("hybrid", "logout");
        Assert.Equal("204 OK", await LatestAnswer("hybrid"));
        await Assertions.Expect(Column("hybrid").Locator("[data-lifetime]")).ToBeHiddenAsync();
        await Assertions.Expect(_page.Locator("#inspector")).ToHaveTextAsync("No token held.");

        // No token held, so Request tries to mint one, and the logged-out session cannot.
        await Click("hybrid", "request");
        Assert.Equal("401 credential_missing", await LatestAnswer("hybrid"));
        Assert.Empty(_consoleErrors);
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
