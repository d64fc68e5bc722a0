namespace Bouncer.AspNetCore;

/// <summary>Claim types Bouncer puts on <c>HttpContext.User</c>.</summary>
public static class BouncerClaims
{
    public const string Subject = "sub";
    public const string SessionId = "sid";
    public const string Role = "role";
    public const string TokenId = "jti";
    public const string Scope = "scope";

    /// <summary>"session" or "jwt": which strategy authenticated the request.</summary>
    public const string Via = "bouncer_via";

    /// <summary>HttpContext.Items key holding the reason code of a refused credential.</summary>
    public const string FailureReasonItem = "bouncer.reason";
}
