namespace Bouncer.AspNetCore;

/// <summary>Names used by the ASP.NET Core integration.</summary>
public static class BouncerDefaults
{
    /// <summary>The default scheme: picks the session or bearer handler by what the request carries.</summary>
    public const string AuthenticationScheme = "Bouncer";
    /// <summary>The session-cookie handler's scheme.</summary>
    public const string SessionScheme = "Bouncer.Session";

    /// <summary>The bearer-token handler's scheme.</summary>
    public const string BearerScheme = "Bouncer.Bearer";

    /// <summary>
    /// <c>__Host-</c> prefix: the browser accepts the cookie only with Secure, Path=/ and no Domain, so a
    /// sibling subdomain cannot plant or overwrite it (RFC 6265bis 4.1.3.2).
    /// </summary>
    public const string SessionCookieName = "__Host-bouncer";

    /// <summary>The refresh-token cookie of browser clients in JWT mode, scoped to the refresh path.</summary>
    public const string RefreshCookieName = "__Secure-bouncer-refresh";

    /// <summary>Policy name for admin-only endpoints.</summary>
    public const string AdminPolicy = "Bouncer.Admin";
}
