namespace Bouncer.AspNetCore;

/// <summary>Claim types Bouncer puts on <c>HttpContext.User</c>.</summary>
public static class BouncerClaims
{
    /// <summary>The user id (<c>sub</c>).</summary>
    public const string Subject = "sub";
    /// <summary>The session id (<c>sid</c>): the session handle, or the refresh family of a token.</summary>
    public const string SessionId = "sid";
    /// <summary>One claim per role; the role claim type of the identity, so <c>IsInRole</c> works.</summary>
    public const string Role = "role";
    /// <summary>The access token id (<c>jti</c>).</summary>
    public const string TokenId = "jti";
    /// <summary>The token's <c>scope</c>, space-separated.</summary>
    public const string Scope = "scope";

    /// <summary>"session" or "jwt": which strategy authenticated the request.</summary>
    public const string Via = "bouncer_via";

    /// <summary>HttpContext.Items key holding the reason code of a refused credential.</summary>
    public const string FailureReasonItem = "bouncer.reason";
}
