using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace Bouncer.AspNetCore;

/// <summary>
/// The default <see cref="BouncerDefaults.AuthenticationScheme"/>: hands each request to the bearer handler when it
/// carries an <c>Authorization</c> header (a native client sends only that), else to the session handler (a browser
/// sends only the cookie), and forwards challenge and forbid to the same one. It calls that handler directly, where a
/// policy scheme would go through the authentication service a second time: one handler, one result, one claims
/// transformation per request instead of two (bench/results/http.md).
/// </summary>
internal sealed class BouncerSchemeHandler(IAuthenticationHandlerProvider handlers) : IAuthenticationHandler
{
    private HttpContext _context = null!;

    public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
    {
        _context = context;
        return Task.CompletedTask;
    }

    // The provider answers synchronously once the handler exists: no state machine of our own on the request path.
    public Task<AuthenticateResult> AuthenticateAsync()
    {
        var target = Target(out var scheme);
        return target.IsCompletedSuccessfully && target.Result is { } handler ? handler.AuthenticateAsync() : AuthenticateLaterAsync(target, scheme);
    }

    public async Task ChallengeAsync(AuthenticationProperties? properties) =>
        await (await RequireAsync(Target(out var scheme), scheme).ConfigureAwait(false)).ChallengeAsync(properties).ConfigureAwait(false);

    public async Task ForbidAsync(AuthenticationProperties? properties) =>
        await (await RequireAsync(Target(out var scheme), scheme).ConfigureAwait(false)).ForbidAsync(properties).ConfigureAwait(false);

    internal static string SelectScheme(HttpContext context) =>
        context.Request.Headers.Authorization.Count > 0 ? BouncerDefaults.BearerScheme : BouncerDefaults.SessionScheme;

    // The provider keeps one handler per scheme and request, so a challenge reaches the handler that authenticated.
    private Task<IAuthenticationHandler?> Target(out string scheme)
    {
        scheme = SelectScheme(_context);
        return handlers.GetHandlerAsync(_context, scheme);
    }

    private static async Task<AuthenticateResult> AuthenticateLaterAsync(Task<IAuthenticationHandler?> target, string scheme) =>
        await (await RequireAsync(target, scheme).ConfigureAwait(false)).AuthenticateAsync().ConfigureAwait(false);

    private static async Task<IAuthenticationHandler> RequireAsync(Task<IAuthenticationHandler?> found, string scheme) =>
        await found.ConfigureAwait(false) ?? throw new InvalidOperationException($"The {scheme} authentication scheme is not registered.");
}
