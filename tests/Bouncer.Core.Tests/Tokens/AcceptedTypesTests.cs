using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>VerifyOptions.AcceptedTypes: the per-verifier widening of typ that outside issuers need.</summary>
public sealed class AcceptedTypesTests
{
    private static readonly SigningKey Key = TestKeys.For(JwsAlgorithm.ES256);

    private static string Token(string? typ, SigningKey? key = null) =>
        TokenFactory.Sign(key ?? Key, TokenFactory.Header(key ?? Key, typ), TokenFactory.Payload(DateTimeOffset.UtcNow));

    private static JwsVerifier Verifier(params string[] accepted) => Verifier(Key, accepted);

    private static JwsVerifier Verifier(SigningKey key, params string[] accepted) =>
        new(JwkSet.Create([key]), new VerifyOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience, AcceptedTypes = accepted });

    [Fact]
    public void Verify_TypJwtByDefault_IsRefused() =>
        Assert.Equal(VerifyFailure.BadTyp, Verifier().Verify(Token("JWT")).Failure);

    [Theory]
    [InlineData("JWT")]
    [InlineData("jwt")]
    public void Verify_TypJwtWhenAccepted_IsValid(string typ) =>
        Assert.True(Verifier("JWT").Verify(Token(typ)).IsValid);

    [Fact]
    public void Verify_AccessTokenTypWithExtraAccepted_IsStillValid() =>
        Assert.True(Verifier("JWT").Verify(Token("at+jwt")).IsValid);

    [Fact]
    public void Verify_OtherTypWhenJwtAccepted_IsRefused() =>
        Assert.Equal(VerifyFailure.BadTyp, Verifier("JWT").Verify(Token("id_token+jwt")).Failure);

    [Fact]
    public void Verify_PrefixOfAcceptedTyp_IsRefused() =>
        Assert.Equal(VerifyFailure.BadTyp, Verifier("JWT").Verify(Token("JW")).Failure);

    [Theory]
    [InlineData("")]
    [InlineData("a-value-that-is-longer-than-32-chars")]
    [InlineData("caf\u00e9")]
    public void Constructor_BadAcceptedTyp_Throws(string typ) =>
        Assert.Throws<ArgumentException>(() => Verifier(typ));

    // HS256: the one algorithm whose valid verify allocates nothing, so any allocation here is the typ check's.
    [ReleaseFact]
    public void Verify_AcceptedTypValid_AllocatesNothing()
    {
        var hmac = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = Verifier(hmac, "JWT");
        var token = System.Text.Encoding.ASCII.GetBytes(Token("JWT", hmac));
        for (int i = 0; i < 100; i++) verifier.Verify(token);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) verifier.Verify(token);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}

/// <summary>The header cache is shared by every verifier over one key set: a typ one verifier admits must not leak to another.</summary>
public sealed class AcceptedTypesCacheTests
{
    private static readonly SigningKey Key = TestKeys.For(JwsAlgorithm.HS256);

    private static string Token(string typ) =>
        TokenFactory.Sign(Key, TokenFactory.Header(Key, typ), TokenFactory.Payload(DateTimeOffset.UtcNow));

    [Fact]
    public void Verify_SharedKeysLenientVerifierFirst_StrictVerifierStillRefusesTyp()
    {
        var keys = JwkSet.Create([Key]);
        var lenient = new JwsVerifier(keys, new VerifyOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience, AcceptedTypes = ["JWT"] });
        var strict = new JwsVerifier(keys, TokenFactory.Options());
        var token = Token("JWT");
        Assert.True(lenient.Verify(token).IsValid);
        Assert.True(lenient.Verify(token).IsValid);
        Assert.Equal(VerifyFailure.BadTyp, strict.Verify(token).Failure);
    }

    [Fact]
    public void Verify_SharedKeysStrictVerifierFirst_LenientVerifierStillAccepts()
    {
        var keys = JwkSet.Create([Key]);
        var strict = new JwsVerifier(keys, TokenFactory.Options());
        var lenient = new JwsVerifier(keys, new VerifyOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience, AcceptedTypes = ["JWT"] });
        var token = Token("JWT");
        Assert.Equal(VerifyFailure.BadTyp, strict.Verify(token).Failure);
        Assert.True(lenient.Verify(token).IsValid);
        Assert.True(lenient.Verify(token).IsValid);
        Assert.Equal(VerifyFailure.BadTyp, strict.Verify(token).Failure);
    }
}
