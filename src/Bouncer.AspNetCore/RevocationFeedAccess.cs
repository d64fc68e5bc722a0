namespace Bouncer.AspNetCore;

/// <summary>Who may read the revocation feed (<c>GET /auth/revocations</c>, <see cref="BouncerOptions.RevocationFeedAccess"/>).</summary>
public enum RevocationFeedAccess
{
    /// <summary>Only callers sending the feed key (<c>X-Bouncer-Feed-Key</c>). The default.</summary>
    KeyRequired = 0,

    /// <summary>
    /// Callers sending the key, and callers on the loopback address (127.0.0.1, ::1) without it: for a deployment whose
    /// verifiers all run on the server's machine. Behind a reverse proxy on the same host every proxied request comes
    /// from loopback, so use it there only with forwarded headers applied.
    /// </summary>
    KeyOrLoopback = 1,
}
