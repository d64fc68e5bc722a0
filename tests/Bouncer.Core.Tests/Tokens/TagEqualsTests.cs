using System.Security.Cryptography;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>The MAC tag comparison that replaced FixedTimeEquals on the HS256 path: same answers, every bit.</summary>
public sealed class TagEqualsTests
{
    [Fact]
    public void EqualTags_AreEqual()
    {
        var tag = RandomNumberGenerator.GetBytes(32);
        Assert.True(SignaturePrimitives.TagEquals32(tag, tag.ToArray()));
    }

    [Fact]
    public void EverySingleBitFlip_IsRefused()
    {
        var tag = RandomNumberGenerator.GetBytes(32);
        for (int bit = 0; bit < 256; bit++)
        {
            var other = tag.ToArray();
            other[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(SignaturePrimitives.TagEquals32(tag, other), $"bit {bit}");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void WrongLength_IsRefused_EvenWhenThePrefixMatches(int length)
    {
        var tag = RandomNumberGenerator.GetBytes(32);
        var other = new byte[length];
        tag.AsSpan(0, Math.Min(32, length)).CopyTo(other);
        Assert.False(SignaturePrimitives.TagEquals32(tag, other));
        Assert.False(SignaturePrimitives.TagEquals32(other, tag));
    }

    [Fact]
    public void AgreesWithFixedTimeEquals_OnRandomPairs()
    {
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var a = new byte[32];
            rng.NextBytes(a);
            var b = a.ToArray();
            // Mostly near misses: a few bytes changed, sometimes none.
            for (int k = rng.Next(0, 3); k > 0; k--) b[rng.Next(32)] = (byte)rng.Next(256);
            Assert.Equal(CryptographicOperations.FixedTimeEquals(a, b), SignaturePrimitives.TagEquals32(a, b));
        }
    }
}
