using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Bouncer.Secrets;

/// <summary>
/// Encrypts secrets with AES-256-GCM under one 32-byte key held outside the store (a file or a setting). A stored value
/// reads <c>bouncer-enc:v1:&lt;key id&gt;:&lt;base64url(nonce | ciphertext | tag)&gt;</c>; the secret's name is the
/// associated data, so a value copied to another name does not decrypt. The key id (a hash of the key, not the key)
/// tells an operator which key a value needs.
/// </summary>
public sealed class KeyFileSecretProtector : ISecretProtector, IDisposable
{
    private const string Prefix = "bouncer-enc:v1:";
    private const int NonceSize = 12;   // AES-GCM's standard nonce (NIST SP 800-38D 8.2): random, one per value
    private const int TagSize = 16;
    private readonly AesGcm _aes;
    private readonly string _keyId;

    private KeyFileSecretProtector(byte[] key, string description)
    {
        _aes = new AesGcm(key, TagSize);
        _keyId = KeyIdOf(key);
        Description = description;
        CryptographicOperations.ZeroMemory(key);
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <summary>The id of this protector's key (8 hex digits of a hash of it), as stored values name it.</summary>
    public string KeyId => _keyId;

    /// <summary>A protector over a key given as base64url of 32 bytes (a setting or an environment variable).</summary>
    /// <exception cref="InvalidOperationException">Not 32 bytes of base64url.</exception>
    public static KeyFileSecretProtector FromKey(string key, string setting = "Bouncer:KeyEncryption:Key") =>
        new(TryParseKey(key) ?? throw new InvalidOperationException($"{setting} must be 32 random bytes in base64url."), setting);

    /// <summary>
    /// A protector over the key in <paramref name="path"/>; when the file is missing, a new random key is written there
    /// with mode 0600 (owner only, from creation). Two processes creating it at once agree: the first file wins.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file is unreadable or does not hold a key: one line naming it.</exception>
    public static KeyFileSecretProtector OpenOrCreate(string path, string setting = "Bouncer:KeyEncryption:KeyFile")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) TryCreate(full, setting);
        string text;
        try
        {
            text = File.ReadAllText(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{setting}: cannot read the key file '{full}': {e.Message}", e);
        }
        var key = TryParseKey(text.Trim())
            ?? throw new InvalidOperationException($"{setting}: '{full}' does not hold a key (32 random bytes in base64url).");
        return new KeyFileSecretProtector(key, $"key file {full}");
    }

    /// <summary>The 32 key bytes of a base64url string, or null when it is anything else.</summary>
    public static byte[]? TryParseKey(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var buffer = new byte[Base64Url.GetMaxDecodedLength(text.Length)];
        return Base64Url.TryDecodeFromChars(text.AsSpan().Trim(), buffer, out int written) && written == 32 ? buffer[..32] : null;
    }

    /// <inheritdoc/>
    public bool IsProtected(string stored) => stored.StartsWith(Prefix, StringComparison.Ordinal);

    /// <inheritdoc/>
    public string Protect(string name, string plaintext)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(plaintext);
        var clear = Encoding.UTF8.GetBytes(plaintext);
        var sealedValue = new byte[NonceSize + clear.Length + TagSize];
        var nonce = sealedValue.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        _aes.Encrypt(nonce, clear, sealedValue.AsSpan(NonceSize, clear.Length), sealedValue.AsSpan(NonceSize + clear.Length), Encoding.UTF8.GetBytes(name));
        CryptographicOperations.ZeroMemory(clear);
        return $"{Prefix}{_keyId}:{Base64Url.EncodeToString(sealedValue)}";
    }

    /// <inheritdoc/>
    public string Unprotect(string name, string stored)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(stored);
        if (!IsProtected(stored)) throw new InvalidOperationException($"The stored secret '{name}' is not in the key-file format.");
        var rest = stored.AsSpan(Prefix.Length);
        int colon = rest.IndexOf(':');
        if (colon < 0) throw Tampered(name);
        var keyId = rest[..colon].ToString();
        if (keyId != _keyId)
            throw new InvalidOperationException(
                $"Bouncer cannot decrypt its stored secret '{name}': it was encrypted with key {keyId}, and {Description} holds key {_keyId}; every instance sharing a store needs the same Bouncer:KeyEncryption key.");
        byte[] sealedValue;
        try
        {
            sealedValue = Base64Url.DecodeFromChars(rest[(colon + 1)..]);
        }
        catch (FormatException)
        {
            throw Tampered(name);
        }
        if (sealedValue.Length < NonceSize + TagSize) throw Tampered(name);
        var clear = new byte[sealedValue.Length - NonceSize - TagSize];
        try
        {
            _aes.Decrypt(sealedValue.AsSpan(0, NonceSize), sealedValue.AsSpan(NonceSize, clear.Length), sealedValue.AsSpan(NonceSize + clear.Length), clear, Encoding.UTF8.GetBytes(name));
            return Encoding.UTF8.GetString(clear);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw Tampered(name);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(clear);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _aes.Dispose();

    /// <summary>Names the protector by where its key lives, never the key.</summary>
    public override string ToString() => Description;

    private static InvalidOperationException Tampered(string name) =>
        new($"Bouncer cannot decrypt its stored secret '{name}': the value was changed or is not one Bouncer wrote.");

    private static string KeyIdOf(byte[] key)
    {
        Span<byte> hash = stackalloc byte[32];
        // A label keeps the id from being the hash of the bare key that anything else might compute.
        HMACSHA256.HashData(key, "bouncer key id"u8, hash);
        return Convert.ToHexStringLower(hash[..4]);
    }

    private static void TryCreate(string path, string setting)
    {
        var folder = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(folder))
            throw new InvalidOperationException($"{setting}: the folder '{folder}' of the key file does not exist; create it (mode 0700) or name another path.");
        var key = RandomNumberGenerator.GetBytes(32);
        // Written whole under a temporary name, then linked into place without replacing: a second process creating the
        // file at the same time never reads a half-written key, and the first file wins.
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(Encoding.ASCII.GetBytes(Base64Url.EncodeToString(key) + "\n"));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first: its key is the deployment's.
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InvalidOperationException($"{setting}: cannot create the key file '{path}': {e.Message}", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
