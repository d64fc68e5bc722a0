namespace Bouncer.Dpop;

/// <summary>The <c>htu</c> comparison of RFC 9449 4.3 step 9.</summary>
public static class DpopTarget
{
    /// <summary>
    /// An absolute http(s) URI without its query and fragment, normalised per RFC 3986 6.2.2 and 6.2.3 (RFC 9449 4.3):
    /// scheme and host in lower case, the default port dropped, an empty path as <c>/</c>, dot segments removed,
    /// percent-encodings of unreserved characters decoded. Null when it is not an absolute http(s) URI.
    /// </summary>
    public static string? Normalize(string? uri)
    {
        if (uri is null || uri.Length > 4096 || !Uri.TryCreate(uri, UriKind.Absolute, out var parsed)) return null;
        if (parsed.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(parsed.UserInfo)) return null;
        // GetLeftPart(Path): scheme://host[:port]/path with System.Uri's syntax- and scheme-based normalisation; the
        // query and fragment are not part of it (RFC 9449 4.3: "ignoring any query and fragment parts").
        return parsed.GetLeftPart(UriPartial.Path);
    }
}
