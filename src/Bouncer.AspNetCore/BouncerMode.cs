namespace Bouncer.AspNetCore;

/// <summary>Which credentials a deployment accepts.</summary>
public enum BouncerMode
{
    /// <summary>Server-side sessions: an opaque id in an HttpOnly cookie, looked up per request.</summary>
    Session,

    /// <summary>Signed access tokens (Bearer) plus rotating refresh tokens; no lookup per request.</summary>
    Jwt,

    /// <summary>Both: browsers hold a session, and a session can mint short JWTs for downstream services.</summary>
    Hybrid,
}
