using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Bouncer.Users;

/// <summary>
/// Password hashes. New hashes are Argon2id (RFC 9106, libsodium via NSec) at OWASP's parameters: 19 MiB of memory
/// (m = 19456 KiB), 2 passes, parallelism 1, a 16-byte random salt and a 32-byte output, in the PHC string format
/// <c>$argon2id$v=19$m=19456,t=2,p=1$salt$hash</c> (base64 without padding, as libsodium's
/// <c>crypto_pwhash_str</c> writes). Older PBKDF2-HMAC-SHA512 hashes (<c>pbkdf2-sha512$iterations$salt$subkey</c>,
/// base64url, 100,000 iterations) still verify; <see cref="NeedsRehash"/> tells a login to replace them.
/// </summary>
/// <remarks>
/// At most <see cref="MaxConcurrentHashes"/> hashes are computed at once per process (every method here waits its
/// turn), so memory for hashing stays under <see cref="MaxConcurrentHashes"/> x 19 MiB for hashes at the current parameters, and under
/// <see cref="MaxConcurrentHashes"/> x 64 MiB (the most a stored Argon2id hash may ask for) however many logins arrive.
/// Parameters read from a stored hash are bounded (m at most 64 MiB, t at most 10, p = 1): anything outside is
/// malformed, so a stored value cannot make a check arbitrarily expensive.
/// </remarks>
public static class PasswordHasher
{
    private const string Pbkdf2Scheme = "pbkdf2-sha512";
    private const int Pbkdf2Iterations = 100_000;

    private const string Argon2Prefix = "$argon2id$v=19$";
    private const int MemoryKiB = 19 * 1024;
    private const int Passes = 2;
    private const int SaltBytes = 16;
    private const int HashBytes = 32;
    private const int MaxMemoryKiB = 64 * 1024;
    private const int MaxPasses = 10;

    /// <summary>
    /// Most password hashes computed at once in this process (<see cref="Environment.ProcessorCount"/> x 2); the rest
    /// wait. Caps hashing memory at this many times 19 MiB at the current parameters (76 MiB on 2 cores); a stored hash
    /// with more memory (at most 64 MiB) raises that bound to this many times 64 MiB.
    /// </summary>
    public static int MaxConcurrentHashes { get; } = Environment.ProcessorCount * 2;

    private static readonly SemaphoreSlim Gate = new(MaxConcurrentHashes, MaxConcurrentHashes);
    private static readonly Argon2id Current = Argon2(MemoryKiB, Passes)!;
    private static int _inFlight, _peakInFlight;

    /// <summary>Test seam: the most hashes seen computing at once since <see cref="ResetPeakInFlight"/>.</summary>
    internal static int PeakInFlight => Volatile.Read(ref _peakInFlight);

    /// <summary>Test seam: restarts <see cref="PeakInFlight"/> from the hashes computing now.</summary>
    internal static void ResetPeakInFlight() => Volatile.Write(ref _peakInFlight, Volatile.Read(ref _inFlight));

    /// <summary>A fresh salted Argon2id hash of <paramref name="password"/>; waits for a turn (see <see cref="MaxConcurrentHashes"/>).</summary>
    public static string Hash(string password)
    {
        Gate.Wait();
        try { return HashCore(password); }
        finally { Gate.Release(); }
    }

    /// <summary>Like <see cref="Hash"/>, waiting for a turn without blocking a thread.</summary>
    public static async ValueTask<string> HashAsync(string password, CancellationToken ct)
    {
        await Gate.WaitAsync(ct).ConfigureAwait(false);
        try { return HashCore(password); }
        finally { Gate.Release(); }
    }

    /// <summary>
    /// True when <paramref name="password"/> matches <paramref name="hash"/> (Argon2id or the older PBKDF2 format);
    /// false for a wrong password or a malformed, unknown or out-of-bounds hash, never an exception. Waits for a turn
    /// (see <see cref="MaxConcurrentHashes"/>).
    /// </summary>
    public static bool Verify(string hash, string password)
    {
        if (!TryParse(hash, out var check)) return false;
        Gate.Wait();
        try { return VerifyCore(check, password); }
        finally { Gate.Release(); }
    }

    /// <summary>Like <see cref="Verify"/>, waiting for a turn without blocking a thread.</summary>
    public static async ValueTask<bool> VerifyAsync(string hash, string password, CancellationToken ct)
    {
        if (!TryParse(hash, out var check)) return false;
        await Gate.WaitAsync(ct).ConfigureAwait(false);
        try { return VerifyCore(check, password); }
        finally { Gate.Release(); }
    }

    /// <summary>
    /// True unless <paramref name="hash"/> is Argon2id at least as strong as new hashes (memory, passes, output):
    /// a PBKDF2 hash, weaker Argon2id parameters, or anything unparsable. A login that verified should then store a
    /// fresh <see cref="Hash"/>.
    /// </summary>
    public static bool NeedsRehash(string hash) =>
        !TryParse(hash, out var check) || check.Algorithm is not Argon2id
        || check.MemoryKiB < MemoryKiB || check.Passes < Passes || check.Expected.Length < HashBytes;

    /// <summary>
    /// A hash of a random password, verified against when the user does not exist, so an unknown
    /// username costs the same time as a wrong password (no user-enumeration timing oracle). Argon2id at the
    /// parameters of new hashes.
    /// </summary>
    public static readonly string Decoy = Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));

    private static string HashCore(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var output = Derive(Current, password, salt, HashBytes);
        return $"{Argon2Prefix}m={MemoryKiB},t={Passes},p=1${B64Encode(salt)}${B64Encode(output)}";
    }

    private static bool VerifyCore(Parsed check, string password)
    {
        var actual = check.Algorithm is { } argon2
            ? Derive(argon2, password, check.Salt, check.Expected.Length)
            : Measured(() => Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), check.Salt, check.Passes, HashAlgorithmName.SHA512, check.Expected.Length));
        // Constant-time compare: no timing oracle on how many bytes matched.
        return CryptographicOperations.FixedTimeEquals(actual, check.Expected);
    }

    private static byte[] Derive(Argon2id algorithm, string password, byte[] salt, int length)
    {
        var bytes = Encoding.UTF8.GetBytes(password);
        try { return Measured(() => algorithm.DeriveBytes(bytes, salt, length)); }
        finally { CryptographicOperations.ZeroMemory(bytes); }
    }

    private static byte[] Measured(Func<byte[]> compute)
    {
        var now = Interlocked.Increment(ref _inFlight);
        for (var peak = Volatile.Read(ref _peakInFlight); now > peak; peak = Volatile.Read(ref _peakInFlight))
            if (Interlocked.CompareExchange(ref _peakInFlight, now, peak) == peak) break;
        try { return compute(); }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    private static Argon2id? Argon2(int memoryKiB, int passes)
    {
        try
        {
            return PasswordBasedKeyDerivationAlgorithm.Argon2id(new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = memoryKiB, NumberOfPasses = passes });
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>A parsed hash: <see cref="Algorithm"/> null for PBKDF2 (then <see cref="Passes"/> is its iteration count).</summary>
    private readonly record struct Parsed(Argon2id? Algorithm, int MemoryKiB, int Passes, byte[] Salt, byte[] Expected);

    private static bool TryParse(string? hash, out Parsed parsed)
    {
        parsed = default;
        if (hash is null || hash.Length > 512) return false;
        return hash.StartsWith(Argon2Prefix, StringComparison.Ordinal) ? TryParseArgon2(hash, out parsed) : TryParsePbkdf2(hash, out parsed);
    }

    // $argon2id$v=19$m=<KiB>,t=<passes>,p=1$<salt>$<hash>, each number canonical decimal and within bounds.
    private static bool TryParseArgon2(string hash, out Parsed parsed)
    {
        parsed = default;
        var parts = hash[Argon2Prefix.Length..].Split('$');
        if (parts.Length != 3) return false;
        var p = parts[0].Split(',');
        if (p.Length != 3 || !TryNumber(p[0], "m=", out var m) || !TryNumber(p[1], "t=", out var t) || p[2] != "p=1") return false;
        if (m is < 8 or > MaxMemoryKiB || t is < 1 or > MaxPasses) return false;
        if (!TryB64Decode(parts[1], out var salt) || salt.Length != SaltBytes) return false;
        if (!TryB64Decode(parts[2], out var expected) || expected.Length is < 16 or > 64) return false;
        var algorithm = m == MemoryKiB && t == Passes ? Current : Argon2(m, t);
        if (algorithm is null) return false;
        parsed = new Parsed(algorithm, m, t, salt, expected);
        return true;
    }

    private static bool TryParsePbkdf2(string hash, out Parsed parsed)
    {
        parsed = default;
        var parts = hash.Split('$');
        if (parts.Length != 4 || parts[0] != Pbkdf2Scheme || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations)
            || iterations is < 10_000 or > 10_000_000)
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
        if (salt.Length < 8 || expected.Length is < 16 or > 64) return false;   // an empty subkey would match anything
        parsed = new Parsed(null, 0, iterations, salt, expected);
        return true;
    }

    private static bool TryNumber(string text, string key, out int value)
    {
        value = 0;
        if (!text.StartsWith(key, StringComparison.Ordinal)) return false;
        var digits = text[key.Length..];
        return digits.Length is > 0 and <= 9 && (digits.Length == 1 || digits[0] != '0')
            && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static string B64Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    // Standard base64 without padding (PHC); strict: no padding, whitespace or other characters.
    private static bool TryB64Decode(string text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length == 0 || text.Length % 4 == 1 || text.Length > 128) return false;
        foreach (var c in text)
            if (!char.IsAsciiLetterOrDigit(c) && c != '+' && c != '/') return false;
        var buffer = new byte[text.Length * 3 / 4];
        if (!Convert.TryFromBase64String(text + new string('=', (4 - text.Length % 4) % 4), buffer, out var written)) return false;
        bytes = buffer[..written];
        return true;
    }
}
