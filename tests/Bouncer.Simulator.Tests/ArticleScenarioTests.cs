using System.Text.RegularExpressions;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Bouncer.Simulator.Tests;

/// <summary>
/// Every scenario of the article the simulator tells (basic flow, revocation, expiration, the refresh pattern, the
/// stale role, client storage, common mistakes, the decision helper), in every column, at one viewport width per
/// subclass; each ends with no console error but the expected 4xx lines and no axe-core violation, and a screenshot.
/// </summary>
public abstract class ArticleScenarioTests(SimulatorFixture fixture, int width, int height) : IAsyncLifetime
{
    private IBrowserContext _context = null!;
    private IPage _page = null!;
    private readonly List<string> _consoleErrors = [];

    protected IPage Page => _page;

    public async Task InitializeAsync()
    {
        (_context, _page) = await OpenAsync(_consoleErrors);
    }

    public async Task DisposeAsync() => await _context.CloseAsync();

    private async Task<(IBrowserContext, IPage)> OpenAsync(List<string> errors)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl, ViewportSize = new ViewportSize { Width = width, Height = height } });
        var page = await context.NewPageAsync();
        // Chromium logs every 4xx answer to fetch as "Failed to load resource"; the scenarios expect 401s (that is the
        // point), so only those lines are let through. Script errors all count.
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource: the server responded with a status of 40", StringComparison.Ordinal))
                errors.Add(message.Text);
        };
        page.PageError += (_, error) => errors.Add(error);
        await page.GotoAsync("/");
        await Assertions.Expect(page.Locator("#demo-status")).ToContainTextAsync("Demo controls on");
        return (context, page);
    }

    private ILocator Column(string strategy, IPage? page = null) => (page ?? _page).Locator($"#col-{strategy}");

    private async Task Click(string strategy, string action, IPage? page = null)
    {
        var column = Column(strategy, page);
        var before = await column.Locator(".timeline li").CountAsync();
        await column.Locator($"button[data-action='{action}']").ClickAsync();
        // Each action adds at least one step; the button is aria-disabled while its requests run.
        await Assertions.Expect(column.Locator(".timeline li")).Not.ToHaveCountAsync(before);
        await Assertions.Expect(column.Locator($"button[data-action='{action}']")).Not.ToHaveAttributeAsync("aria-disabled", "true");
    }

    private async Task ClickAndWait(ILocator button)
    {
        await button.ClickAsync();
        await Assertions.Expect(button).Not.ToHaveAttributeAsync("aria-disabled", "true");
    }

    private Task<string> LatestAnswer(string strategy, IPage? page = null) => Column(strategy, page).Locator(".timeline li .status").First.InnerTextAsync();

    private ILocator LatestStep(string strategy) => Column(strategy).Locator(".timeline li").First;

    private async Task<int> Counter(string strategy, string name) =>
        int.Parse(await Column(strategy).Locator($"[data-counter='{name}']").InnerTextAsync());

    private string Shot(string name) => Path.Combine(fixture.ScreenshotFolder, $"{width}-{name}.png");

    // The page's final state: a screenshot, no unexpected console line, no accessibility violation.
    private async Task Finish(string name)
    {
        await _page.ScreenshotAsync(new PageScreenshotOptions { Path = Shot(name), FullPage = true });
        Assert.Empty(_consoleErrors);
        var axe = await _page.RunAxe();
        Assert.True(axe.Violations.Length == 0, string.Join("\n", axe.Violations.Select(v => $"{v.Id}: {v.Help} ({string.Join(", ", v.Nodes.Select(n => n.Html))})")));
        var overflow = await _page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
        Assert.True(overflow <= 0, $"page is {overflow}px wider than the {width}px viewport");
    }

    [Fact]
    public async Task BasicFlow_SessionLooksUpEveryTime_JwtNever_BouncerOncePerMint()
    {
        await Click("session", "login");
        for (var i = 0; i < 3; i++) await Click("session", "request");
        Assert.Equal("200 OK", await LatestAnswer("session"));
        Assert.Equal(3, await Counter("session", "lookups"));

        await Click("jwt", "login");
        for (var i = 0; i < 3; i++) await Click("jwt", "request");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));
        await Click("jwt", "refresh");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));

        // Finding 4: with the Session column logged in, the JWT column's register, login and refresh carry no session
        // lookup and are not labelled as session cookie requests; its refresh names the refresh cookie it sent.
        Assert.Equal(0, await Counter("jwt", "lookups"));
        Assert.Equal(0, await Column("jwt").Locator(".timeline li", new() { HasText = "session cookie" }).CountAsync());
        await Assertions.Expect(LatestStep("jwt")).ToContainTextAsync("with refresh cookie");
        // Finding 5: the store round trips of login and refresh are counted; the refresh token is a session.
        await Assertions.Expect(LatestStep("jwt").Locator(".did")).ToContainTextAsync(new Regex("[1-9][0-9]* store round trips?"));
        Assert.True(await Counter("jwt", "store") >= 3, "login and refresh read and write the store");
        await Assertions.Expect(Column("jwt").Locator(".timeline li", new() { HasText = "Log in: POST" }).Locator(".did")).ToContainTextAsync("store round trip");

        await Click("hybrid", "request");
        for (var i = 0; i < 2; i++) await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        await Assertions.Expect(LatestStep("hybrid").Locator(".did")).ToHaveTextAsync("no session lookup · signature verified · revocation state checked in memory");
        // Each step is timestamped, with the server's own time for it.
        await Assertions.Expect(LatestStep("hybrid").Locator(".when")).ToHaveTextAsync(new Regex(@"^\d\d:\d\d:\d\d\.\d{3} · server [0-9.]+ ms$"));
        await Finish("basic-flow");
    }

    [Fact]
    public async Task Revocation_SessionRefusesAtOnce_PlainJwtKeepsWorking_BouncerRefusesAtOnce_OnTheScoreboard()
    {
        // Finding 6: a first visitor's JWT column is plain JWT, stated on the page, so the article's paradox shows.
        await Assertions.Expect(Column("jwt").Locator("#jwt-note")).ToContainTextAsync("Push revocation is off");
        await Assertions.Expect(_page.Locator("#jwt-push")).Not.ToBeCheckedAsync();
        foreach (var strategy in new[] { "session", "jwt" }) await Click(strategy, "login");
        foreach (var strategy in new[] { "session", "jwt", "hybrid" })
        {
            await Click(strategy, "request");
            Assert.Equal("200 OK", await LatestAnswer(strategy));
        }

        // The Session and Bouncer columns are one user (one cookie jar): one revoke ends both, and both are probed.
        foreach (var strategy in new[] { "jwt", "hybrid" }) await Click(strategy, "revoke");

        Assert.Equal("401 session_invalid", await LatestAnswer("session"));
        Assert.Equal("200 OK", await LatestAnswer("jwt"));
        Assert.Equal("401 token_revoked", await LatestAnswer("hybrid"));
        await Click("jwt", "request");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));

        var board = _page.Locator("#scoreboard");
        await Assertions.Expect(board.Locator("[data-row='session'] [data-cell='after']")).ToHaveTextAsync(new Regex(@"^refused after \d+ ms"));
        await Assertions.Expect(board.Locator("[data-row='hybrid'] [data-cell='after']")).ToHaveTextAsync(new Regex(@"^refused after \d+ ms"));
        await Assertions.Expect(board.Locator("[data-row='jwt'] [data-cell='after']")).ToHaveTextAsync(new Regex(@"^still accepted for 2 requests and \d+ s \(token lifetime left: \d+ min \d+ s\)"));
        await Assertions.Expect(board.Locator("[data-row='session'] [data-cell='bytes']")).ToHaveTextAsync("43 B (session cookie)");
        await Assertions.Expect(_page.Locator("#bytes-ratio")).ToContainTextAsync(new Regex(@"A JWT request carries \d{3,4} B against the session cookie's 43 B: [0-9.]+× the bytes"));
        await Assertions.Expect(board.Locator("[data-row='jwt'] [data-cell='timing']")).ToHaveTextAsync(new Regex(@"^[0-9.]+ ms \(article: ~0\.5 ms Redis lookup\)$"));
        File.WriteAllText(Path.Combine(fixture.ScreenshotFolder, $"{width}-scoreboard.txt"), await board.InnerTextAsync() + "\n" + await _page.Locator("#bytes-ratio").InnerTextAsync());
        await Finish("revocation-scoreboard");
    }

    [Fact]
    public async Task Expiration_BothRefuseForDifferentReasons_AndRefreshRecovers()
    {
        await Click("session", "login");
        await Click("session", "expire");
        await Click("session", "request");
        Assert.Equal("401 session_invalid", await LatestAnswer("session"));
        // Finding 9: expired is "in the store, expiry in the past"; revoked is "gone from the store".
        await Assertions.Expect(LatestStep("session").Locator(".why")).ToContainTextAsync("Still in the store, but its expiry");
        await Click("session", "login");
        await Click("session", "revoke");
        await Assertions.Expect(LatestStep("session").Locator(".why")).ToContainTextAsync("Gone from the store");

        await Click("jwt", "login");
        await Click("jwt", "expire");
        // Finding 3: the countdown no longer claims minutes left once the server judges the token expired.
        await Assertions.Expect(Column("jwt").Locator("[data-lifetime]")).ToContainTextAsync("Access token expired (demo clock)");
        await Click("jwt", "request");
        Assert.Equal("401 token_expired", await LatestAnswer("jwt"));
        await Assertions.Expect(LatestStep("jwt").Locator(".why")).ToContainTextAsync("exp claim is in the past");
        // Finding 1: Refresh recovers; the new token is accepted.
        await Click("jwt", "refresh");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));
        await Assertions.Expect(Column("jwt").Locator("[data-lifetime]")).ToContainTextAsync("valid for");
        await Click("jwt", "request");
        Assert.Equal("200 OK", await LatestAnswer("jwt"));

        await Click("hybrid", "login");
        await Click("hybrid", "request");
        await Click("hybrid", "expire");
        await Assertions.Expect(Column("hybrid").Locator("[data-lifetime]")).ToContainTextAsync("Hybrid token expired (demo clock)");
        await Click("hybrid", "request");
        Assert.Equal("401 token_expired", await LatestAnswer("hybrid"));
        await Click("hybrid", "refresh");
        await Click("hybrid", "request");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        await Finish("expiration");
    }

    [Fact]
    public async Task LogOut_WithAnExpiredAccessToken_EndsTheRefreshFamily()
    {
        // Finding 2: the log-out is answered 204 and the refresh that follows is refused.
        await Click("jwt", "login");
        await Click("jwt", "expire");
        await Click("jwt", "logout");
        Assert.Equal("204 OK", await LatestAnswer("jwt"));
        await Assertions.Expect(LatestStep("jwt").Locator(".why")).ToContainTextAsync("token_expired");
        await Assertions.Expect(Column("jwt").Locator("[data-lifetime]")).ToBeHiddenAsync();
        await Click("jwt", "refresh");
        Assert.Matches("^401 refresh_token_", await LatestAnswer("jwt"));
        await Finish("logout-expired");
    }

    [Fact]
    public async Task RefreshPattern_EveryStep_FromTheRealCalls()
    {
        await Click("jwt", "login");
        await Click("jwt", "request");
        await Click("jwt", "expire");
        await Click("jwt", "request");
        await Click("jwt", "refresh");
        await Click("jwt", "request");
        await Click("jwt", "revoke");
        await Click("jwt", "refresh");

        var steps = _page.Locator("#pattern li");
        await Assertions.Expect(steps).ToHaveCountAsync(6);
        await Assertions.Expect(_page.Locator("#pattern li.done")).ToHaveCountAsync(6);
        await Assertions.Expect(_page.Locator("#pattern [data-step='expired'] .seen")).ToContainTextAsync("401 token_expired");
        await Assertions.Expect(_page.Locator("#pattern [data-step='refresh'] .seen")).ToContainTextAsync(new Regex(@"200 OK\. Checked against the store \([1-9]\d* round trips\)"));
        await Assertions.Expect(_page.Locator("#pattern [data-step='revoked'] .seen")).ToContainTextAsync("401 refresh_token_revoked");
        await Finish("refresh-pattern");
    }

    [Fact]
    public async Task StaleRole_JwtKeepsTheOldRole_SessionAndBouncerSeeTheNewOne()
    {
        await Click("session", "login");
        await Click("jwt", "login");
        await Click("hybrid", "request");

        await ClickAndWait(_page.Locator("#role-toggle"));

        var roles = _page.Locator("#roles");
        await Assertions.Expect(roles.Locator("[data-row='session'] [data-cell='roles']")).ToHaveTextAsync("editor");
        await Assertions.Expect(roles.Locator("[data-row='jwt'] [data-cell='roles']")).ToHaveTextAsync("(none)");
        await Assertions.Expect(roles.Locator("[data-row='jwt'] [data-cell='why']")).ToContainTextAsync("until it is refreshed");
        await Assertions.Expect(roles.Locator("[data-row='hybrid'] [data-cell='roles']")).ToHaveTextAsync("editor");
        await Assertions.Expect(roles.Locator("[data-row='hybrid'] [data-cell='why']")).ToContainTextAsync("refused the token minted before the change");
        await Assertions.Expect(_page.Locator("#role-toggle")).ToHaveTextAsync("Take the editor role away");
        await Finish("stale-role");
    }

    [Fact]
    public async Task StorageTable_HasTheArticlesFourRowsAndThreeQuestions_AllInView()
    {
        var table = _page.Locator("#storage-table");
        Assert.Equal(["localStorage", "sessionStorage", "HttpOnly cookie", "HttpOnly + SameSite"],
            await table.Locator("tbody th").AllInnerTextsAsync());
        var headers = string.Join("|", await table.Locator("thead th").AllTextContentsAsync());
        foreach (var question in new[] { "XSS", "CSRF", "Sent automatically" }) Assert.Contains(question, headers);
        // Finding 10: no cell is cut off on the right, at either width.
        foreach (var cell in await table.Locator("td, th").AllAsync())
        {
            if (!await cell.IsVisibleAsync()) continue;
            var box = await cell.BoundingBoxAsync();
            Assert.True(box!.X + box.Width <= width + 0.5, $"a storage cell ends at {box.X + box.Width}px on a {width}px screen");
        }
        await table.ScrollIntoViewIfNeededAsync();
        await Finish("storage");
    }

    [Fact]
    public async Task CommonMistakes_CraftedTokens_AreRefusedByTheRealVerifier_AndTimesAreReadable()
    {
        await Click("jwt", "login");
        var exp = _page.Locator("#inspector [data-claim='exp']");
        await Assertions.Expect(exp).ToHaveTextAsync(new Regex(@"^exp \(expires\): \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, in (9|10) min \d+ s$"));
        await Assertions.Expect(_page.Locator("#inspector [data-claim='iat']")).ToContainTextAsync("UTC");

        var answers = _page.Locator("#mistakes li .status");
        await ClickAndWait(_page.Locator("button[data-mistake='none']"));
        // An empty signature makes it malformed before the alg is even weighed: refused before any crypto either way.
        await Assertions.Expect(answers.First).ToHaveTextAsync(new Regex("^401 (malformed|alg_not_allowed)$"));
        await Assertions.Expect(_page.Locator("#mistakes li .why").First).ToContainTextAsync("before any crypto");
        await ClickAndWait(_page.Locator("button[data-mistake='long']"));
        await Assertions.Expect(answers.First).ToHaveTextAsync("401 bad_signature");
        await ClickAndWait(_page.Locator("button[data-mistake='secret']"));
        await Assertions.Expect(answers.First).ToHaveTextAsync("401 bad_signature");
        await Assertions.Expect(_page.Locator("#mistakes li .why").First).ToContainTextAsync("signed is not encrypted");
        await Finish("mistakes");
    }

    [Fact]
    public async Task Focus_StaysOnTheButton_WhileAndAfterItsRequestRuns()
    {
        // Finding 7: a busy button keeps keyboard focus.
        var login = Column("session").Locator("button[data-action='login']");
        await login.FocusAsync();
        await _page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(Column("session").Locator(".timeline li .status").First).ToHaveTextAsync("204 OK");
        await Assertions.Expect(login).Not.ToHaveAttributeAsync("aria-disabled", "true");
        Assert.Equal("login", await _page.EvaluateAsync<string>("() => document.activeElement.dataset.action || document.activeElement.tagName"));
        await _page.Keyboard.PressAsync("Tab");
        await _page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(Column("session").Locator(".timeline li .status").First).ToHaveTextAsync("200 OK");
        Assert.Equal("request", await _page.EvaluateAsync<string>("() => document.activeElement.dataset.action || document.activeElement.tagName"));
        await Finish("focus");
    }

    [Fact]
    public async Task DecisionHelper_EveryAnswerCounts_NoContradiction_SnippetIsTheCompiledReadmeExample()
    {
        var snippet = _page.Locator("#recommendation pre");
        await Assertions.Expect(snippet).ToHaveAttributeAsync("data-snippet", "session");
        // Finding 8: the backend answer has an effect, and one answer excludes the other.
        await _page.GetByLabel("Several services verify identity").CheckAsync();
        await Assertions.Expect(_page.GetByLabel("One backend serves everything")).Not.ToBeCheckedAsync();
        await Assertions.Expect(snippet).ToHaveAttributeAsync("data-snippet", "jwt");
        await _page.GetByLabel("Access must end the moment it is revoked").CheckAsync();
        await Assertions.Expect(_page.GetByLabel("Ending within the token lifetime is acceptable")).Not.ToBeCheckedAsync();
        await Assertions.Expect(snippet).ToHaveAttributeAsync("data-snippet", "hybrid");
        await _page.GetByLabel("Ending within the token lifetime is acceptable").CheckAsync();
        await Assertions.Expect(snippet).ToHaveAttributeAsync("data-snippet", "jwt");
        await _page.GetByLabel("One backend serves everything").CheckAsync();
        await Assertions.Expect(snippet).ToHaveAttributeAsync("data-snippet", "session");
        await _page.GetByLabel("Also mobile, CLI or third-party clients").CheckAsync();
        await _page.GetByLabel("Access must end the moment it is revoked").CheckAsync();
        await Assertions.Expect(snippet).ToHaveAttributeAsync("data-snippet", "hybrid");

        // The README's example is compiled by ReadmeSnippetTests; the page's snippet is that text, mode aside.
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "../../../../../README.md"));
        var compiled = Regex.Match(readme, @"## In an ASP\.NET Core app.*?```csharp\n(.*?)```", RegexOptions.Singleline).Groups[1].Value.TrimEnd();
        Assert.Equal(compiled, (await snippet.InnerTextAsync()).TrimEnd());
        await Finish("decision");
    }

    [Fact]
    public async Task Push_IsTheBouncerColumnsFeature_AndOneVisitorsSwitchLeavesAnotherAlone()
    {
        // Finding 10: the switch sits in the Bouncer column it belongs to, at either width.
        var toggle = await _page.Locator("#push-toggle").BoundingBoxAsync();
        var column = await Column("hybrid").BoundingBoxAsync();
        Assert.True(toggle!.Y >= column!.Y && toggle.Y + toggle.Height <= column.Y + column.Height, "push switch outside the Bouncer column");

        // Visitor A turns the push off for their own session; visitor B's Bouncer column still refuses at once.
        await Click("hybrid", "login");
        var sent = _page.WaitForResponseAsync("**/demo/push");
        await _page.Locator("#push-toggle").ClickAsync();
        await sent;
        var otherErrors = new List<string>();
        var (otherContext, other) = await OpenAsync(otherErrors);
        try
        {
            await Assertions.Expect(other.Locator("#push-toggle")).ToBeCheckedAsync();
            await Click("hybrid", "login", other);
            await Click("hybrid", "request", other);
            await Click("hybrid", "revoke", other);
            Assert.Equal("401 token_revoked", await LatestAnswer("hybrid", other));
            Assert.Empty(otherErrors);
        }
        finally
        {
            await otherContext.CloseAsync();
        }

        // A's own push is off: a revoked Bouncer token still works for its short life.
        await Click("hybrid", "request");
        await Click("hybrid", "revoke");
        Assert.Equal("200 OK", await LatestAnswer("hybrid"));
        await Finish("push-per-visitor");
    }

    [Fact]
    public async Task Layout_ColumnsKeepTheirStateInView_NoHorizontalScroll()
    {
        await Click("jwt", "login");
        var position = await Column("jwt").Locator(".column-head").EvaluateAsync<string>("e => getComputedStyle(e).position");
        Assert.Equal(width <= 640 ? "sticky" : "static", position);
        await Assertions.Expect(Column("jwt").Locator("[data-state]")).ToContainTextAsync("Holding an access token");
        await Finish("layout");
    }
}
