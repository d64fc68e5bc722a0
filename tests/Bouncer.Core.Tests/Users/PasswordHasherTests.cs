using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Users;
using NSec.Cryptography;

namespace Bouncer.Tests.Users;

/// <summary>Argon2id hashes in the PHC format, older PBKDF2 hashes still verifying, bounded parameters, the hashing cap.</summary>
public sealed class PasswordHasherTests
{
    /// <summary>A hash in the format written before Argon2id: PBKDF2-HMAC-SHA512, 100,000 iterations, base64url.</summary>
    internal static string Pbkdf2Hash(string password, int iterations = 100_000)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var subkey = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, 32);
        return $"pbkdf2-sha512${iterations}${Base64Url.EncodeToString(salt)}${Base64Url.EncodeToString(subkey)}";
    }

    /// <summary>A correct Argon2id PHC string at any parameters, computed with NSec directly (not through the hasher).</summary>
    private static string Argon2Hash(string password, int memoryKiB, int passes, int hashBytes = 32)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var output = PasswordBasedKeyDerivationAlgorithm
            .Argon2id(new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = memoryKiB, NumberOfPasses = passes })
            .DeriveBytes(Encoding.UTF8.GetBytes(password), salt, hashBytes);
        return $"$argon2id$v=19$m={memoryKiB},t={passes},p=1${B64(salt)}${B64(output)}";
    }

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static byte[] UnB64(string s) => Convert.FromBase64String(s + new string('=', (4 - s.Length % 4) % 4));

    [Fact]
    public void Hash_IsArgon2id_InThePhcFormat_AtOwaspParameters()
    {
        var hash = PasswordHasher.Hash("correct horse");

        var parts = hash.Split('$');
        Assert.Equal(6, parts.Length);
        Assert.Equal(["", "argon2id", "v=19", "m=19456,t=2,p=1"], parts[..4]);
        Assert.DoesNotContain('=', parts[4] + parts[5]);   // PHC base64: no padding
        var salt = UnB64(parts[4]);
        var output = UnB64(parts[5]);
        Assert.Equal(16, salt.Length);
        Assert.Equal(32, output.Length);
        // It really is Argon2id at m = 19 MiB, t = 2, p = 1 over the UTF-8 password and that salt.
        var expected = PasswordBasedKeyDerivationAlgorithm
            .Argon2id(new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = 19 * 1024, NumberOfPasses = 2 })
            .DeriveBytes(Encoding.UTF8.GetBytes("correct horse"), salt, 32);
        Assert.Equal(expected, output);
        Assert.NotEqual(hash, PasswordHasher.Hash("correct horse"));   // a fresh salt each time
        Assert.False(PasswordHasher.NeedsRehash(hash));
    }

    [Fact]
    public async Task Argon2id_RightPasswordVerifies_WrongDoesNot()
    {
        var hash = PasswordHasher.Hash("correct horse");
        Assert.True(PasswordHasher.Verify(hash, "correct horse"));
        Assert.False(PasswordHasher.Verify(hash, "correct horsf"));
        Assert.False(PasswordHasher.Verify(hash, ""));
        Assert.True(await PasswordHasher.VerifyAsync(hash, "correct horse", default));
        Assert.False(await PasswordHasher.VerifyAsync(hash, "Correct horse", default));
    }

    [Fact]
    public void Pbkdf2_StillVerifies_WrongDoesNot_AndNeedsRehash()
    {
        var hash = Pbkdf2Hash("correct horse");
        Assert.True(PasswordHasher.Verify(hash, "correct horse"));
        Assert.False(PasswordHasher.Verify(hash, "correct horsf"));
        Assert.True(PasswordHasher.NeedsRehash(hash));
    }

    [Fact]
    public void WeakerArgon2id_Verifies_AndNeedsRehash_StrongerDoesNot()
    {
        var weak = Argon2Hash("correct horse", 8 * 1024, 1);
        Assert.True(PasswordHasher.Verify(weak, "correct horse"));
        Assert.False(PasswordHasher.Verify(weak, "wrong horse"));
        Assert.True(PasswordHasher.NeedsRehash(weak));
        Assert.True(PasswordHasher.NeedsRehash(Argon2Hash("correct horse", 19 * 1024, 1)));    // fewer passes
        Assert.True(PasswordHasher.NeedsRehash(Argon2Hash("correct horse", 19 * 1024, 2, hashBytes: 16)));   // shorter output

        var stronger = Argon2Hash("correct horse", 20 * 1024, 3);
        Assert.True(PasswordHasher.Verify(stronger, "correct horse"));
        Assert.False(PasswordHasher.NeedsRehash(stronger));
    }

    [Fact]
    public void ParametersOutOfBounds_AreMalformed_EvenWhenThePasswordMatches()
    {
        // Correct hashes (computed directly) whose cost is past the bound: refused, so a stored value cannot make a
        // check arbitrarily expensive. The cheap in-bound twin shows the refusal is the bound, not a wrong hash.
        Assert.True(PasswordHasher.Verify(Argon2Hash("pw", 8, 10), "pw"));
        Assert.False(PasswordHasher.Verify(Argon2Hash("pw", 8, 11), "pw"));         // t above 10
        Assert.True(PasswordHasher.Verify(Argon2Hash("pw", 64 * 1024, 1), "pw"));
        Assert.False(PasswordHasher.Verify(Argon2Hash("pw", 64 * 1024 + 8, 1), "pw"));   // m above 64 MiB
    }

    public static TheoryData<string> Malformed()
    {
        var good = PasswordHasher.Hash("pw");
        var p = good.Split('$');   // "", argon2id, v=19, m=..,t=..,p=.., salt, hash
        string With(int i, string value) { var q = (string[])p.Clone(); q[i] = value; return string.Join('$', q); }
        var pbkdf2 = Pbkdf2Hash("pw").Split('$');
        return new TheoryData<string>
        {
            "", "$", "$argon2id$", "argon2id", "$argon2id$v=19$m=19456,t=2,p=1$$",
            With(1, "argon2i"), With(1, "ARGON2ID"), With(2, "v=16"), With(2, "v=019"),
            With(3, "m=4194304,t=2,p=1"),   // 4 GiB
            With(3, "m=99999999999,t=2,p=1"), With(3, "m=19456,t=4000000000,p=1"),
            With(3, "m=19456,t=11,p=1"), With(3, "m=19456,t=0,p=1"), With(3, "m=0,t=2,p=1"), With(3, "m=7,t=2,p=1"),
            With(3, "m=-19456,t=2,p=1"), With(3, "m=+19456,t=2,p=1"), With(3, "m=019456,t=2,p=1"), With(3, "m= 19456,t=2,p=1"),
            With(3, "m=19456,t=2,p=2"), With(3, "m=19456,t=2"), With(3, "t=2,m=19456,p=1"), With(3, "m=19456,t=2,p=1,x=1"),
            With(3, "m=19456,t=2,p=1,keyid=abc"), With(3, ""),
            With(4, p[4] + "=="), With(4, p[4][..^1]), With(4, p[4] + "AA"), With(4, "!" + p[4][1..]), With(4, " " + p[4][1..]), With(4, ""),
            With(5, p[5] + "="), With(5, ""), With(5, p[5][..8]), With(5, p[5] + new string('A', 100)), With(5, "-" + p[5][1..]),
            good + "$", good + "$extra", " " + good, good + " ", good.Replace("$", "$$"),
            new string('$', 10_000), "$argon2id$v=19$" + new string('9', 100_000),
            // The PBKDF2 format's edges: an empty subkey must not match everything, nor may parsing throw.
            $"pbkdf2-sha512$100000${pbkdf2[2]}$", "pbkdf2-sha512$100000$$", $"pbkdf2-sha512$0${pbkdf2[2]}${pbkdf2[3]}",
            $"pbkdf2-sha512$-100000${pbkdf2[2]}${pbkdf2[3]}", $"pbkdf2-sha512$100000000${pbkdf2[2]}${pbkdf2[3]}",
            $"pbkdf2-sha512$100000$!!!${pbkdf2[3]}", $"pbkdf2-sha256$100000${pbkdf2[2]}${pbkdf2[3]}",
            $"pbkdf2-sha512$100000${pbkdf2[2]}${pbkdf2[3]}$x",
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task MalformedHashes_AreFalse_NeverAnException(string hash)
    {
        Assert.False(PasswordHasher.Verify(hash, "pw"));
        Assert.False(PasswordHasher.Verify(hash, ""));
        Assert.False(await PasswordHasher.VerifyAsync(hash, "pw", default));
        Assert.True(PasswordHasher.NeedsRehash(hash));
    }

    [Fact]
    public void Decoy_IsArgon2id_AtTheParametersOfNewHashes()
    {
        // An unknown name is checked against the decoy: it must cost what a real check of a new hash costs.
        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", PasswordHasher.Decoy);
        Assert.False(PasswordHasher.NeedsRehash(PasswordHasher.Decoy));
        Assert.False(PasswordHasher.Verify(PasswordHasher.Decoy, ""));
    }

    [Fact]
    public async Task ParallelChecks_NeverExceedTheCap()
    {
        var cap = PasswordHasher.MaxConcurrentHashes;
        Assert.Equal(Environment.ProcessorCount * 2, cap);
        var hash = PasswordHasher.Hash("pw");
        var n = cap * 3;
        using var start = new Barrier(n + 1);
        PasswordHasher.ResetPeakInFlight();
        // Dedicated threads (not pool threads, which arrive slowly) all released at once, half sync and half async.
        var threads = Enumerable.Range(0, n).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            if (i % 2 == 0) Assert.True(PasswordHasher.Verify(hash, "pw"));
            else Assert.True(PasswordHasher.VerifyAsync(hash, "pw", default).AsTask().GetAwaiter().GetResult());
        })).ToList();
        threads.ForEach(t => t.Start());
        start.SignalAndWait();
        var async = Task.WhenAll(Enumerable.Range(0, n).Select(_ => Task.Run(async () => Assert.False(await PasswordHasher.VerifyAsync(hash, "no", default)))));
        threads.ForEach(t => t.Join());
        await async;

        Assert.InRange(PasswordHasher.PeakInFlight, 1, cap);
    }
}
