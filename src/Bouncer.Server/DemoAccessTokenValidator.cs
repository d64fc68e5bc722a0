using Bouncer.Tokens;

namespace Bouncer.Server;

/// <summary>
/// The demo host's decorator of the engine's bearer pipeline: a token the demo clock expired is refused as
/// <c>token_expired</c>, and for a credential whose holder turned the push off (its <c>sid</c>), the revocation verdict
/// is skipped (the article's "plain JWT" paradox). It acts on the caller's own credential only; registered by the demo
/// host alone, so no library setting can weaken revocation.
/// </summary>
internal sealed class DemoAccessTokenValidator(AccessTokenValidator engine, DemoState demo) : IAccessTokenValidator
{
    public async ValueTask<AccessTokenResult> ValidateAsync(string token, CancellationToken ct)
    {
        var verified = engine.Verify(token);
        if (verified.IsValid && demo.IsExpired(verified.Claims.JwtId))
            return AccessTokenResult.Fail(FailureCodes.TokenExpired);
        if (verified.IsValid && !demo.PushEnabledFor(verified.Claims.SessionId))
        {
            // Judged without the revocation verdict, but traced like any bearer check: the page shows what was done.
            if (Bouncer.Diagnostics.BouncerTrace.Current is { } trace)
            {
                trace.Strategy = "jwt";
                trace.CredentialBytes = token.Length;
                trace.SignatureChecks++;
            }
            return verified;
        }
        return await engine.ValidateAsync(token, ct).ConfigureAwait(false);
    }
}
