namespace Bouncer.Tokens;

/// <summary>One key of the ring as <c>bouncer keys list</c> shows it: never key material.</summary>
/// <param name="KeyId">The <c>kid</c>.</param>
/// <param name="Algorithm">The one algorithm the key is pinned to.</param>
/// <param name="State">Pending, signing or verifying.</param>
/// <param name="SignsFrom">When the key starts (or started) to sign.</param>
/// <param name="SignsUntil">When its successor takes over; null for the newest key.</param>
/// <param name="RetiresAt">When it stops verifying (the successor has signed for the longest token lifetime plus skew); null for the newest key.</param>
public sealed record KeyInfo(string KeyId, string Algorithm, KeyState State, DateTimeOffset SignsFrom, DateTimeOffset? SignsUntil, DateTimeOffset? RetiresAt);
