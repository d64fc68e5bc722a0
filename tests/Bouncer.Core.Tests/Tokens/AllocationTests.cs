using System.Text;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

public sealed class AllocationTests
{
    [Fact]
    public void Verify_ValidHs256_AllocatesNothingAfterWarmUp()
    {
        var clock = new ManualClock();
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = new JwsVerifier(JwkSet.Create([key]), TokenFactory.Options(), clock);
        byte[] token = Encoding.UTF8.GetBytes(TokenFactory.Sign(key, TokenFactory.Header(key),
            TokenFactory.Payload(clock.GetUtcNow(), ",\"roles\":[\"a\",\"b\"],\"scope\":\"read write\"")));

        for (int i = 0; i < 200; i++) Assert.True(verifier.Verify(token).IsValid);

        long before = GC.GetAllocatedBytesForCurrentThread();
        int valid = 0;
        for (int i = 0; i < 1000; i++)
            if (verifier.Verify(token).IsValid) valid++;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1000, valid);
        Assert.Equal(0, allocated);
    }

    [Theory]
    [InlineData(0)]     // a short header: parsed once, then from the header cache
    [InlineData(400)]   // a header segment over the cache's 512-byte limit: parsed on every verify
    public void Verify_ValidHs256WithUnknownHeaderMembers_AllocatesNothingAfterWarmUp(int padding)
    {
        var clock = new ManualClock();
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = new JwsVerifier(JwkSet.Create([key]), TokenFactory.Options(), clock);
        string extra = "\"x5t\":\"nOo3ZDrODXEK1jKWhXslHR_KXEg\",\"custom\":1,\"ext\":{\"a\":[1,{\"b\":null}],\"c\":{}},\"e\":\"caf\\u00e9\",\"n\\u00e9\":2"
                       + (padding > 0 ? $",\"pad\":\"{new string('p', padding)}\"" : "");
        string header = TokenFactory.HeaderWith(key, extra);
        Assert.Equal(padding > 0, TokenFactory.B64(header).Length > 512);
        byte[] token = Encoding.UTF8.GetBytes(TokenFactory.Sign(key, header,
            TokenFactory.Payload(clock.GetUtcNow(), ",\"roles\":[\"a\",\"b\"],\"scope\":\"read write\"")));

        for (int i = 0; i < 200; i++) Assert.True(verifier.Verify(token).IsValid);

        long before = GC.GetAllocatedBytesForCurrentThread();
        int valid = 0;
        for (int i = 0; i < 1000; i++)
            if (verifier.Verify(token).IsValid) valid++;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1000, valid);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Verify_InvalidHs256_AllocatesNothingAfterWarmUp()
    {
        var clock = new ManualClock();
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = new JwsVerifier(JwkSet.Create([key]), TokenFactory.Options(), clock);
        string good = TokenFactory.Sign(key, TokenFactory.Header(key), TokenFactory.Payload(clock.GetUtcNow()));
        byte[] token = Encoding.UTF8.GetBytes(good[..^2] + (good[^2] == 'A' ? "BA" : "AA"));

        for (int i = 0; i < 200; i++) verifier.Verify(token);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int badSignature = 0;
        for (int i = 0; i < 1000; i++)
            if (verifier.Verify(token).Failure == VerifyFailure.BadSignature) badSignature++;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1000, badSignature);
        Assert.Equal(0, allocated);
    }
}
