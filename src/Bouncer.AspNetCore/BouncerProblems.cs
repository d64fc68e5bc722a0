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
    /// A token endpoint's answer to a refused DPoP proof (RFC 9449 5, 8; RFC 6749 5.2): 400 with <c>error</c>
    /// (<c>invalid_dpop_proof</c> or <c>use_dpop_nonce</c>, then with a fresh <c>DPoP-Nonce</c>) and the reason code;
    /// 503 with Retry-After when the replay cache is full (the proof could not be checked, nothing is wrong with it).
    /// </summary>
    public static IResult DpopTokenError(HttpContext context, Dpop.DpopProofResult result, string? nonce)
    {
        var reason = result.Failure ?? throw new ArgumentException("the result is not a refusal", nameof(result));
        if (reason == FailureCodes.DpopReplayCacheFull)
        {
            context.Response.Headers.RetryAfter = "1";
            return Result(503, reason, "Too many DPoP proofs at once; retry shortly.");
        }
        if (reason == FailureCodes.DpopKeyRateLimited)
        {
            // This key's share of the replay cache is used up: the client slows down, others are unaffected (RFC 6585 4).
            context.Response.Headers.RetryAfter = "1";
            return Result(429, reason, "Too many DPoP proofs by this key; retry shortly.");
        }
        // RFC 9449 8: the nonce to use comes with the error that asks for it.
        if (reason == FailureCodes.UseDpopNonce && nonce is not null) context.Response.Headers["DPoP-Nonce"] = nonce;
        return Results.Problem(detail: "The DPoP proof was refused: " + reason + ".", statusCode: 400, title: reason,
            extensions: new Dictionary<string, object?> { ["reason"] = reason, ["error"] = result.Error, ["error_description"] = reason });
    }

    /// <summary>
    /// 401 for a resource request refused for DPoP reasons or presented with the DPoP scheme (RFC 9449 7.1): a
    /// <c>DPoP</c> challenge with <c>error</c>, the reason as <c>error_description</c> and <c>algs</c>; a token presented
    /// as Bearer keeps its Bearer challenge and gets a bare DPoP challenge beside it, which says how to present it.
    /// </summary>
    public static Task WriteDpopUnauthorizedAsync(HttpContext context, string? reason, bool dpopScheme, string algs, string? nonce)
    {
        var error = Dpop.DpopProofResult.ErrorFor(reason);
        string dpop = reason is null ? $"DPoP algs=\"{algs}\"" : $"DPoP error=\"{error}\", error_description=\"{reason}\", algs=\"{algs}\"";
        // RFC 9449 9: a resource's nonce comes with the use_dpop_nonce challenge.
        if (reason == FailureCodes.UseDpopNonce && nonce is not null) context.Response.Headers["DPoP-Nonce"] = nonce;
        context.Response.Headers[HeaderNames.WWWAuthenticate] = dpopScheme
            ? dpop
            : new Microsoft.Extensions.Primitives.StringValues([reason is null ? "Bearer realm=\"bouncer\"" : $"Bearer realm=\"bouncer\", error=\"invalid_token\", error_description=\"{reason}\"", $"DPoP algs=\"{algs}\""]);
        return WriteAsync(context, 401, reason ?? FailureCodes.CredentialMissing, reason is null
            ? "This resource needs a DPoP-bound token."
            : "The credential was refused: " + reason + ".");
    }

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
