using Bouncer.Refresh;
using Bouncer.Users;

namespace Bouncer.Access;

/// <summary>The result of <see cref="AccessManager.ChangePasswordAsync(string, string?, string?, bool, string?, bool, string?, CancellationToken)"/>.</summary>
/// <param name="Outcome"><see cref="UserOutcome.Ok"/>, or why nothing changed.</param>
/// <param name="SessionId">The caller's session under its new id (the old one is dead), when a session asked.</param>
/// <param name="Tokens">A new refresh family and access grant for a token caller whose family ended with the others.</param>
public sealed record PasswordChange(UserOutcome Outcome, string? SessionId = null, RefreshResult? Tokens = null);
