using Bouncer.Revocation;

namespace Bouncer.Core.Tests.Revocation;

public sealed class RevocationSetTests
{
    private static readonly DateTimeOffset T = new(2026, 11, 23, 12, 0, 10, 500, TimeSpan.Zero);

    [Fact]
    public void IsRevoked_BySidOrJti_OnlyThoseMatch()
    {
        var set = new RevocationSet();
        set.Apply(new RevocationRecord(RevocationKind.Session, "sid-1", T, T.AddMinutes(11)));
        set.Apply(new RevocationRecord(RevocationKind.Token, "jti-1", T, T.AddMinutes(11)));

        Assert.True(set.IsRevoked("sid-1", "other", "alice", T.ToUnixTimeSeconds()));
        Assert.True(set.IsRevoked("sid-2", "jti-1", "alice", T.ToUnixTimeSeconds()));
        Assert.False(set.IsRevoked("sid-2", "jti-2", "alice", T.ToUnixTimeSeconds()));
        Assert.False(set.IsRevoked("", "", "", 0));
    }

    [Fact]
    public void UserCutOff_RefusesEarlierSeconds_AcceptsALoginInTheSameSecond()
    {
        var set = new RevocationSet();
        set.Apply(new RevocationRecord(RevocationKind.User, "alice", T, T.AddMinutes(11)));
        var second = T.ToUnixTimeSeconds();

        Assert.True(set.IsRevoked("s-old", "j", "alice", second - 1));
        // A new login 200 ms after "log out everywhere" has iat == the cut-off second: accepted at once.
        // (Tokens issued earlier in that second are refused by their revoked sid, not by this check.)
        Assert.False(set.IsRevoked("s-new", "j", "alice", second));
        Assert.False(set.IsRevoked("s-old", "j", "bob", second - 1));
    }

    [Fact]
    public void UserCutOff_LaterRevocationWins_EarlierDoesNotRollBack()
    {
        var set = new RevocationSet();
        set.Apply(new RevocationRecord(RevocationKind.User, "alice", T.AddSeconds(60), T.AddMinutes(11)));
        set.Apply(new RevocationRecord(RevocationKind.User, "alice", T, T.AddMinutes(11)));

        Assert.True(set.IsRevoked("s", "j", "alice", T.AddSeconds(59).ToUnixTimeSeconds()));
    }

    [Fact]
    public void SignOut_CutsOffTheUsersSessionsToTheMillisecond_AndItsTokensLikeAUserCutOff()
    {
        var set = new RevocationSet();
        Assert.Equal(long.MinValue, set.SessionsNotBefore("alice"));
        set.Apply(new RevocationRecord(RevocationKind.SignOut, "alice", T, T.AddMinutes(20)));

        Assert.Equal(T.ToUnixTimeMilliseconds(), set.SessionsNotBefore("alice"));
        Assert.Equal(long.MinValue, set.SessionsNotBefore("bob"));
        Assert.True(set.IsRevoked("s", "j", "alice", T.ToUnixTimeSeconds() - 1));
        Assert.False(set.IsRevoked("s", "j", "alice", T.ToUnixTimeSeconds()));
        // A plain user cut-off (an account change) leaves sessions alone.
        set.Apply(new RevocationRecord(RevocationKind.User, "bob", T, T.AddMinutes(20)));
        Assert.Equal(long.MinValue, set.SessionsNotBefore("bob"));
        // A later sign-out wins; an earlier one does not roll it back.
        set.Apply(new RevocationRecord(RevocationKind.SignOut, "alice", T.AddSeconds(-30), T.AddMinutes(20)));
        Assert.Equal(T.ToUnixTimeMilliseconds(), set.SessionsNotBefore("alice"));

        Assert.Equal(3, set.Prune(T.AddMinutes(21)));
        Assert.Equal(long.MinValue, set.SessionsNotBefore("alice"));
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public void Prune_DropsOnlyExpiredEntries()
    {
        var set = new RevocationSet();
        set.Apply(new RevocationRecord(RevocationKind.Session, "short", T, T.AddMinutes(1)));
        set.Apply(new RevocationRecord(RevocationKind.Token, "long", T, T.AddMinutes(20)));
        set.Apply(new RevocationRecord(RevocationKind.User, "alice", T, T.AddMinutes(1)));

        Assert.Equal(2, set.Prune(T.AddMinutes(5)));

        Assert.Equal(1, set.Count);
        Assert.True(set.IsRevoked("", "long", "", 0));
        Assert.False(set.IsRevoked("short", "", "alice", 0));
    }

    [Fact]
    public void IsRevoked_AllocatesNothing()
    {
        var set = new RevocationSet();
        set.Apply(new RevocationRecord(RevocationKind.Session, "sid-1", T, T.AddMinutes(11)));
        set.Apply(new RevocationRecord(RevocationKind.User, "bob", T, T.AddMinutes(11)));
        var sid = "sid-2".AsSpan();
        set.IsRevoked(sid, "jti", "alice", 0);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var revoked = false;
        for (var i = 0; i < 1000; i++) revoked |= set.IsRevoked(sid, "jti", "alice", 0);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.False(revoked);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void ManyEntries_EveryOneFound_OthersNot_BeforeAndAfterPrune()
    {
        var set = new RevocationSet();
        var ids = Enumerable.Range(0, 20_000).Select(i => Guid.NewGuid().ToString("N")[..(8 + i % 20)]).ToList();
        for (var i = 0; i < ids.Count; i++)
            set.Apply(new RevocationRecord(i % 2 == 0 ? RevocationKind.Session : RevocationKind.Token, ids[i], T, T.AddMinutes(i < 10_000 ? 1 : 20)));

        Assert.All(ids.Where((_, i) => i % 2 == 0), id => Assert.True(set.IsRevoked(id, "", "", 0)));
        Assert.All(ids.Where((_, i) => i % 2 == 1), id => Assert.True(set.IsRevoked("", id, "", 0)));
        Assert.DoesNotContain(Enumerable.Range(0, 5000).Select(_ => Guid.NewGuid().ToString("N")), id => set.IsRevoked(id, id, id, 0));

        Assert.Equal(10_000, set.Prune(T.AddMinutes(5)));

        for (var i = 0; i < ids.Count; i++)
        {
            var kept = i >= 10_000;
            Assert.Equal(kept, i % 2 == 0 ? set.IsRevoked(ids[i], "", "", 0) : set.IsRevoked("", ids[i], "", 0));
        }
    }
}
