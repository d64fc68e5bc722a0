using System.Net;
using System.Net.Http.Json;

namespace Bouncer.Server.Tests;

/// <summary>Account lockout and the per-address limit on failed logins.</summary>
public sealed class LoginLimitTests
{
    private static Task<HttpResponseMessage> LoginAsync(BouncerHost host, string username, string password) =>
        host.Client().PostAsJsonAsync("/auth/login", new { username, password, mode = "jwt" });

    [Fact]
    public async Task Login_FiveWrongPasswords_LocksAccountEvenForRightPassword()
    {
        await using var host = new BouncerHost(("Bouncer:Users:RevealLockout", "true"));
        await host.RegisterAsync("alice");
        for (var i = 1; i <= 4; i++)
        {
            using var wrong = await LoginAsync(host, "alice", "wrong password " + i);
            await Problem.AssertAsync(wrong, HttpStatusCode.Unauthorized, "invalid_credentials");
        }
        using (var fifth = await LoginAsync(host, "alice", "wrong password 5"))
            await Problem.AssertAsync(fifth, HttpStatusCode.Unauthorized, "account_locked");
        using (var right = await LoginAsync(host, "alice", Passwords.Good))
            await Problem.AssertAsync(right, HttpStatusCode.Unauthorized, "account_locked");
        Assert.NotNull((await host.Runtime.Stores.Users.GetAsync("alice", default))!.LockedUntil);

        // Another account is not affected.
        await host.LoginJwtAsync("bob");
    }

    [Fact]
    public async Task Login_LockedAccount_ByDefault_AnswersLikeAnUnknownName()
    {
        // Only an existing account can be locked: saying so would tell a guesser which names exist.
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        for (var i = 1; i <= 5; i++)
        {
            using var wrong = await LoginAsync(host, "alice", "wrong password " + i);
            await Problem.AssertAsync(wrong, HttpStatusCode.Unauthorized, "invalid_credentials");
            using var unknown = await LoginAsync(host, "nobody-at-all", "wrong password " + i);
            await Problem.AssertAsync(unknown, HttpStatusCode.Unauthorized, "invalid_credentials");
        }
        using (var right = await LoginAsync(host, "alice", Passwords.Good))
            await Problem.AssertAsync(right, HttpStatusCode.Unauthorized, "invalid_credentials");
        Assert.NotNull((await host.Runtime.Stores.Users.GetAsync("alice", default))!.LockedUntil);
    }

    [Fact]
    public async Task Login_MaxFailedLoginsConfigured_LocksAfterThatMany()
    {
        await using var host = new BouncerHost(("Bouncer:Users:MaxFailedLogins", "2"), ("Bouncer:Users:RevealLockout", "true"));
        await host.RegisterAsync("alice");
        using (var first = await LoginAsync(host, "alice", "wrong password 1"))
            await Problem.AssertAsync(first, HttpStatusCode.Unauthorized, "invalid_credentials");
        using (var second = await LoginAsync(host, "alice", "wrong password 2"))
            await Problem.AssertAsync(second, HttpStatusCode.Unauthorized, "account_locked");
    }

    [Fact]
    public async Task Login_SuccessResetsFailureCount_NoLockout()
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < 4; i++)
                using (await LoginAsync(host, "alice", "wrong password")) { }
            await host.LoginJwtAsync("alice", register: false);
        }
    }

    [Fact]
    public async Task Login_FailuresBeyondPerMinuteLimit_Returns429RateLimited()
    {
        await using var host = new BouncerHost(("Bouncer:LoginFailuresPerMinute", "3"));
        await host.RegisterAsync("alice");
        // Different usernames: the address limit, not the account lockout, is what trips.
        for (var i = 0; i < 3; i++)
        {
            using var wrong = await LoginAsync(host, "nobody" + i, "wrong password");
            await Problem.AssertAsync(wrong, HttpStatusCode.Unauthorized, "invalid_credentials");
        }
        using (var limited = await LoginAsync(host, "nobody9", "wrong password"))
            await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, "rate_limited");
        // The address is limited as a whole, right password or not.
        using (var right = await LoginAsync(host, "alice", Passwords.Good))
            await Problem.AssertAsync(right, HttpStatusCode.TooManyRequests, "rate_limited");
    }

    [Fact]
    public async Task Login_BehindATrustedProxy_LimitsEachForwardedClientOnItsOwn()
    {
        await using var host = new BouncerHost(("Bouncer:LoginFailuresPerMinute", "2"), ("Bouncer:TrustedProxies", "*"));
        async Task<HttpResponseMessage> From(string client, string username)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/login") { Content = JsonContent.Create(new { username, password = "wrong password" }) };
            request.Headers.Add("X-Forwarded-For", client);
            return await host.Client().SendAsync(request);
        }

        for (var i = 0; i < 2; i++)
            using (var wrong = await From("203.0.113.7", "nobody" + i)) await Problem.AssertAsync(wrong, HttpStatusCode.Unauthorized, "invalid_credentials");
        using (var limited = await From("203.0.113.7", "nobody9"))
            await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, "rate_limited");
        // Another client behind the same proxy is not limited by the first one's failures.
        using (var other = await From("198.51.100.4", "nobody"))
            await Problem.AssertAsync(other, HttpStatusCode.Unauthorized, "invalid_credentials");
    }

    [Fact]
    public async Task Login_DefaultLimitTwentyFailures_TwentyFirstIsLimited()
    {
        await using var host = new BouncerHost();
        for (var i = 0; i < 20; i++)
        {
            using var wrong = await LoginAsync(host, "nobody" + i, "wrong password");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using var limited = await LoginAsync(host, "nobody", "wrong password");
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, "rate_limited");
    }

    [Fact]
    public async Task Login_ParallelBurstOfGuesses_IsHeldToTheLimit_AndLocksTheAccount()
    {
        // 40 guesses sent at once: before, all passed the limiter (failures are counted after the password check)
        // and the account's failure count lost updates; now a couple run at a time and each failure counts.
        await using var host = new BouncerHost(("Bouncer:LoginFailuresPerMinute", "10"), ("Bouncer:Users:RevealLockout", "true"));
        await host.RegisterAsync("alice");

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            using var response = await LoginAsync(host, "alice", "wrong password " + i);
            return (response.StatusCode, Reason: await Problem.ReasonAsync(response));
        }));

        var checkedPasswords = answers.Count(a => a.StatusCode == HttpStatusCode.Unauthorized);
        Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        Assert.InRange(checkedPasswords, 5, 10 + 2);   // the per-address limit, overshot by at most the checks in flight
        // The fifth counted failure locks; a check already past the lock test when it landed may still answer
        // invalid_credentials (counting towards the next lock), so one more than four is possible with two in flight.
        Assert.InRange(answers.Count(a => a.Reason == "invalid_credentials"), 4, 5);
        Assert.Contains(answers, a => a.Reason == "account_locked");
        var stored = (await host.Runtime.Stores.Users.GetAsync("alice", default))!;
        Assert.NotNull(stored.LockedUntil);
    }

    [Theory]
    [InlineData("session")]
    [InlineData("jwt")]
    public async Task Login_TenSuccessesInARow_NeverLimited(string mode)
    {
        await using var host = new BouncerHost(("Bouncer:LoginFailuresPerMinute", "3"));
        await host.RegisterAsync("alice");
        for (var i = 0; i < 10; i++)
        {
            using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode });
            Assert.True(response.IsSuccessStatusCode, $"login {i + 1} gave {(int)response.StatusCode}");
        }
    }
}
