using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Bouncer.AspNetCore;

/// <summary>RFC 9457 problem+json answers carrying a stable <c>reason</c> code.</summary>
public static class BouncerProblems
{
    /// <summary>Writes a problem document; the reason code is also the title, so logs and clients agree.</summary>
    public static Task WriteAsync(HttpContext context, int status, string reason, string detail)
    {
        if (context.Response.HasStarted) return Task.CompletedTask;
        context.Response.StatusCode = status;
        return Results.Problem(detail: detail, statusCode: status, title: reason, extensions: new Dictionary<string, object?> { ["reason"] = reason })
            .ExecuteAsync(context);
    }

    /// <summary>An <c>IResult</c> problem for endpoint handlers.</summary>
    public static IResult Result(int status, string reason, string detail) =>
        Results.Problem(detail: detail, statusCode: status, title: reason, extensions: new Dictionary<string, object?> { ["reason"] = reason });

    /// <summary>
    /// 401 with the reason the credential was refused (or <c>credential_missing</c>). For bearer requests,
    /// a WWW-Authenticate challenge per RFC 6750 3: <c>invalid_token</c> with the reason as description.
    /// </summary>
    public static Task WriteUnauthorizedAsync(HttpContext context, bool bearer)
    {
        var reason = context.Items[BouncerClaims.FailureReasonItem] as string;
        // RFC 9110 11.6.1: a 401 always carries a challenge; RFC 6750 3: invalid_token only when a token was refused
        // (a request without one gets the bare challenge, never an error code).
        context.Response.Headers[HeaderNames.WWWAuthenticate] = reason is not null && (bearer || context.Request.Headers.Authorization.Count > 0)
            ? $"Bearer realm=\"bouncer\", error=\"invalid_token\", error_description=\"{reason}\""
            : "Bearer realm=\"bouncer\"";
        return WriteAsync(context, 401, reason ?? FailureCodes.CredentialMissing, reason is null
            ? "This resource needs a session cookie or a bearer token."
            : "The credential was refused: " + reason + ".");
    }
}
