using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Bouncer.AspNetCore;

/// <summary>A credential Bouncer accepted, with the principal it built; an event may add claims or refuse it.</summary>
public sealed class BouncerValidatedContext(HttpContext httpContext, ClaimsPrincipal principal)
{
    /// <summary>The request.</summary>
    public HttpContext HttpContext { get; } = httpContext;

    /// <summary>The principal the request will carry.</summary>
    public ClaimsPrincipal Principal { get; } = principal;

    /// <summary>The failure code the credential is refused with, when an event called <see cref="Fail"/>.</summary>
    public string? Failure { get; private set; }

    /// <summary>Refuses the credential with <paramref name="reason"/> (a stable snake_case code).</summary>
    public void Fail(string reason) => Failure = reason ?? throw new ArgumentNullException(nameof(reason));
}
