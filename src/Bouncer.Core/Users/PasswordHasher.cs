using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Bouncer.Users;

/// <summary>
/// PBKDF2-HMAC-SHA512 password hashes with ASP.NET Core Identity's v3 parameters (100,000 iterations,
/// 128-bit salt, 256-bit subkey), from the BCL's <see cref="Rfc2898DeriveBytes.Pbkdf2(ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, HashAlgorithmName, int)"/>.
/// Format: <c>pbkdf2-sha512$iterations$salt$subkey</c> (base64url), so parameters can grow later.
/// </summary>
public static class PasswordHasher
{
    private const string Scheme = "pbkdf2-sha512";
    private const int Iterations = 100_000;

    /// <summary>A fresh salted hash of <paramref name="password"/>.</summary>
    public static string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var subkey = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA512, 32);
        return $"{Scheme}${Iterations}${Base64Url.EncodeToString(salt)}${Base64Url.EncodeToString(subkey)}";
    }

    /// <summary>True when <paramref name="password"/> matches; false for a wrong password or a malformed hash.</summary>
    public static bool Verify(string hash, string password)
    {
        var parts = hash.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], out var iterations) || iterations is < 10_000 or > 10_000_000)
            return false;
        byte[] salt, expected;
        try
        {
            salt = Base64Url.DecodeFromChars(parts[2]);
            expected = Base64Url.DecodeFromChars(parts[3]);
        }
        catch (FormatException)
        {
            return false;
        }
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, expected.Length);
        // Constant-time compare: no timing oracle on how many bytes matched.
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>
    /// A hash of a random password, verified against when the user does not exist, so an unknown
    /// username costs the same time as a wrong password (no user-enumeration timing oracle).
    /// </summary>
    public static readonly string Decoy = Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));
}
