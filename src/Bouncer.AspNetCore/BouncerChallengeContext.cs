using Microsoft.AspNetCore.Http;

namespace Bouncer.AspNetCore;

/// <summary>A 401 or 403 about to be written, with the failure code (null on a 401 without any credential).</summary>
public sealed class BouncerChallengeContext(HttpContext httpContext, string? failure)
{
    /// <summary>The request.</summary>
    public HttpContext HttpContext { get; } = httpContext;

    /// <summary>Why the credential was refused, or null when none was presented.</summary>
    public string? Failure { get; } = failure;

    /// <summary>Set when the event wrote the answer itself: Bouncer then writes nothing.</summary>
    public bool Handled { get; set; }
}
