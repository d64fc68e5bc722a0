using System.Buffers;
using System.Buffers.Text;

namespace Bouncer.Tokens;

/// <summary>
/// Canonical base64url (RFC 7515 2, RFC 4648 5): no padding, no whitespace, no <c>+</c> or <c>/</c>, and the
/// unused trailing bits zero, so exactly one spelling decodes to a given value. The BCL decoder is lenient
/// (whitespace, padding), so everything is checked before it runs.
/// </summary>
internal static class Base64UrlStrict
{
    private static readonly SearchValues<byte> AlphabetBytes =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"u8);

    private static readonly SearchValues<char> AlphabetChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    /// <summary>Bytes a canonical encoding of <paramref name="encodedLength"/> chars decodes to; -1 if no canonical encoding has that length.</summary>
    public static int DecodedLength(int encodedLength) =>
        (encodedLength & 3) == 1 ? -1 : (encodedLength >> 2) * 3 + ((encodedLength & 3) switch { 2 => 1, 3 => 2, _ => 0 });

    private static readonly SearchValues<byte> AlphabetAndDot =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."u8);

    /// <summary>True when every byte is a base64url character or a dot: one scan for a whole compact JWS.</summary>
    public static bool IsAlphabetOrDot(ReadOnlySpan<byte> text) => !text.ContainsAnyExcept(AlphabetAndDot);

    /// <summary>Length and trailing-bit rules only, for a segment whose alphabet was already checked.</summary>
    public static bool HasCanonicalShape(ReadOnlySpan<byte> text) =>
        (text.Length & 3) != 1 && (text.Length == 0 || TrailingBitsZero(text[^1], text.Length & 3));

    public static bool IsCanonical(ReadOnlySpan<byte> text)
    {
        if ((text.Length & 3) == 1 || text.ContainsAnyExcept(AlphabetBytes)) return false;
        return text.Length == 0 || TrailingBitsZero(text[^1], text.Length & 3);
    }

    public static bool IsCanonical(ReadOnlySpan<char> text)
    {
        if ((text.Length & 3) == 1 || text.ContainsAnyExcept(AlphabetChars)) return false;
        return text.Length == 0 || TrailingBitsZero(text[^1], text.Length & 3);
    }

    /// <summary>Decodes canonical base64url; false on any non-canonical input or a too-small destination.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> text, Span<byte> destination, out int written)
    {
        written = 0;
        int length = DecodedLength(text.Length);
        if (length < 0 || length > destination.Length || !IsCanonical(text)) return false;
        // The OperationStatus overload: the bool overloads throw FormatException on bad input.
        return Base64Url.DecodeFromUtf8(text, destination, out _, out written) == OperationStatus.Done && written == length;
    }

    /// <summary>Decodes text already checked with <see cref="IsCanonical(ReadOnlySpan{byte})"/>; skips the second scan.</summary>
    public static bool TryDecodeChecked(ReadOnlySpan<byte> canonicalText, Span<byte> destination, out int written)
    {
        written = 0;
        int length = DecodedLength(canonicalText.Length);
        if (length < 0 || length > destination.Length) return false;
        return Base64Url.DecodeFromUtf8(canonicalText, destination, out _, out written) == OperationStatus.Done && written == length;
    }

    /// <summary>Length of the canonical encoding of 32 bytes (a session id, a session handle).</summary>
    public const int Length32 = 43;

    /// <summary>Decodes exactly 32 bytes from their canonical 43-char form; false on anything else.</summary>
    public static bool TryDecode32(ReadOnlySpan<char> text, Span<byte> destination) =>
        text.Length == Length32 && TryDecode(text, destination, out int written) && written == 32;

    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        int length = DecodedLength(text.Length);
        if (length < 0 || length > destination.Length || !IsCanonical(text)) return false;
        return Base64Url.DecodeFromChars(text, destination, out _, out written) == OperationStatus.Done && written == length;
    }

    /// <summary>Decodes to a new array, or null when not canonical. For key loading, not the hot path.</summary>
    public static byte[]? DecodeToArray(string? text)
    {
        if (text is null) return null;
        int length = DecodedLength(text.Length);
        if (length < 0) return null;
        var result = new byte[length];
        return TryDecode(text.AsSpan(), result, out _) ? result : null;
    }

    public static string Encode(ReadOnlySpan<byte> data) => Base64Url.EncodeToString(data);

    private static bool TrailingBitsZero(int last, int remainder)
    {
        int value = last switch
        {
            >= 'A' and <= 'Z' => last - 'A',
            >= 'a' and <= 'z' => last - 'a' + 26,
            >= '0' and <= '9' => last - '0' + 52,
            '-' => 62,
            _ => 63,
        };
        // 2 chars carry 8 bits plus 4 unused, 3 chars carry 16 bits plus 2 unused.
        return remainder switch { 2 => (value & 0xF) == 0, 3 => (value & 0x3) == 0, _ => true };
    }
}
