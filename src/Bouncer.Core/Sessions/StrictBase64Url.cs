using System.Buffers;
using System.Buffers.Text;

namespace Bouncer.Sessions;

/// <summary>
/// Canonical decoding of the 43-char base64url form of 32 bytes. The BCL decoder skips whitespace and
/// accepts padding, so the alphabet, the length and the two unused trailing bits are checked first:
/// exactly one spelling decodes to a given value.
/// </summary>
internal static class StrictBase64Url
{
    public const int Length32 = 43;

    private static readonly SearchValues<char> Alphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    // 43 chars carry 258 bits; the last char's low two bits are padding and must be zero, i.e. its
    // value is a multiple of 4: A E I M Q U Y c g k o s w 0 4 8.
    private static readonly SearchValues<char> CanonicalLast = SearchValues.Create("AEIMQUYcgkosw048");

    public static bool TryDecode32(ReadOnlySpan<char> text, Span<byte> destination)
    {
        if (text.Length != Length32 || text.ContainsAnyExcept(Alphabet) || !CanonicalLast.Contains(text[^1]))
            return false;
        var status = Base64Url.DecodeFromChars(text, destination, out _, out var written);
        return status == OperationStatus.Done && written == 32;
    }
}
