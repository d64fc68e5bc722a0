namespace Bouncer;

/// <summary>
/// The one catalogue of Bouncer's failure codes: the same snake_case string is the <c>reason</c> of an HTTP problem
/// document, the CLI's error, the log line and the <c>reason</c> tag of <c>bouncer.failures</c>. Codes are stable;
/// new ones may be added, none is renamed.
/// </summary>
public static class FailureCodes
{
    // Token verification (VerifyFailure.ToCode): RFC 7515, 7519 and 8725 checks.
    /// <summary>Not a well-formed compact JWS.</summary>
    public const string Malformed = "malformed";
    /// <summary>Larger than the verifier accepts.</summary>
    public const string TooLarge = "too_large";
    /// <summary>JSON nested deeper than the verifier accepts.</summary>
    public const string TooDeep = "too_deep";
    /// <summary>The <c>alg</c> is not allowed for the key (RFC 8725 3.1).</summary>
    public const string AlgNotAllowed = "alg_not_allowed";
    /// <summary>No key with the token's <c>kid</c>.</summary>
    public const string UnknownKid = "unknown_kid";
    /// <summary>The signature does not verify.</summary>
    public const string BadSignature = "bad_signature";
    /// <summary>A <c>crit</c> header lists an extension Bouncer does not implement (RFC 7515 4.1.11).</summary>
    public const string CritUnsupported = "crit_unsupported";
    /// <summary>A header parameter Bouncer refuses.</summary>
    public const string UnsupportedHeader = "unsupported_header";
    /// <summary>A header that points at a key (jku, x5u, jwk, x5c): never trusted.</summary>
    public const string UntrustedKeyHeader = "untrusted_key_header";
    /// <summary>Wrong or missing <c>typ</c> (RFC 8725 3.11).</summary>
    public const string BadTyp = "bad_typ";
    /// <summary>Past <c>exp</c>.</summary>
    public const string TokenExpired = "token_expired";
    /// <summary>Before <c>nbf</c>.</summary>
    public const string NotYetValid = "not_yet_valid";
    /// <summary><c>iat</c> in the future beyond the skew.</summary>
    public const string IssuedInFuture = "issued_in_future";
    /// <summary>No <c>exp</c>.</summary>
    public const string MissingExp = "missing_exp";
    /// <summary>A date claim that is not a number.</summary>
    public const string BadDate = "bad_date";
    /// <summary>Wrong <c>iss</c>.</summary>
    public const string BadIssuer = "bad_issuer";
    /// <summary>Wrong <c>aud</c>.</summary>
    public const string BadAudience = "bad_audience";

    // Credentials at a resource.
    /// <summary>No credential at all on a request that needs one.</summary>
    public const string CredentialMissing = "credential_missing";
    /// <summary>A verified token without <c>sub</c>.</summary>
    public const string MissingSub = "missing_sub";
    /// <summary>The token, its session, family or user was revoked.</summary>
    public const string TokenRevoked = "token_revoked";
    /// <summary>The revocation state is older than the staleness bound and the policy refuses.</summary>
    public const string RevocationStateStale = "revocation_state_stale";
    /// <summary>The session cookie's name appears more than once in the request: none of them is trusted.</summary>
    public const string DuplicateSessionCookie = "duplicate_session_cookie";
    /// <summary>The session cookie names no live session.</summary>
    public const string SessionInvalid = "session_invalid";
    /// <summary>The token's issuer is not trusted here.</summary>
    public const string UntrustedIssuer = "untrusted_issuer";
    /// <summary>The issuer's keys could not be loaded.</summary>
    public const string KeysUnavailable = "keys_unavailable";
    /// <summary>Valid credential without the required role.</summary>
    public const string Forbidden = "forbidden";

    // Refresh tokens (RFC 9700 4.14).
    /// <summary>Malformed or unknown refresh token.</summary>
    public const string RefreshTokenInvalid = "refresh_token_invalid";
    /// <summary>Past its idle limit or its family's lifetime.</summary>
    public const string RefreshTokenExpired = "refresh_token_expired";
    /// <summary>Its family was revoked.</summary>
    public const string RefreshTokenRevoked = "refresh_token_revoked";
    /// <summary>A rotated token presented after the grace window: the family is now revoked.</summary>
    public const string RefreshTokenReused = "refresh_token_reused";

    // Accounts and requests.
    /// <summary>Unknown username or wrong password (deliberately not told apart).</summary>
    public const string InvalidCredentials = "invalid_credentials";
    /// <summary>Too many failed logins (only said when the deployment reveals lockouts).</summary>
    public const string AccountLocked = "account_locked";
    /// <summary>The username is taken.</summary>
    public const string UsernameTaken = "username_taken";
    /// <summary>A body or argument of the wrong shape.</summary>
    public const string InvalidRequest = "invalid_request";
    /// <summary>Too many attempts from this address.</summary>
    public const string RateLimited = "rate_limited";
    /// <summary>The mode asked for is not enabled in this deployment.</summary>
    public const string ModeNotEnabled = "mode_not_enabled";
    /// <summary>Self-service registration is off.</summary>
    public const string RegistrationDisabled = "registration_disabled";
    /// <summary>The exchange needs a session, not a token.</summary>
    public const string SessionRequired = "session_required";
    /// <summary>The exchange may not mint for that audience.</summary>
    public const string AudienceNotAllowed = "audience_not_allowed";
    /// <summary>No such session of the user.</summary>
    public const string SessionNotFound = "session_not_found";
    /// <summary>A cross-site unsafe request riding on a cookie.</summary>
    public const string CsrfRejected = "csrf_rejected";
    /// <summary>Missing or wrong anti-forgery token.</summary>
    public const string CsrfTokenInvalid = "csrf_token_invalid";
    /// <summary>The revocation feed needs its key.</summary>
    public const string FeedKeyInvalid = "feed_key_invalid";
    /// <summary>HS256 keys are not rotated through the endpoint.</summary>
    public const string SymmetricKeys = "symmetric_keys";
    /// <summary>The stored key set could not be updated.</summary>
    public const string KeyRotationFailed = "key_rotation_failed";
    /// <summary>The key ring holds no key with that kid.</summary>
    public const string KeyNotFound = "key_not_found";
    /// <summary>Scraping metrics needs the metrics user's credentials.</summary>
    public const string MetricsAuthRequired = "metrics_auth_required";
    /// <summary>A store did not answer in time or refused the connection.</summary>
    public const string StoreUnavailable = "store_unavailable";
    /// <summary>The account is suspended.</summary>
    public const string UserSuspended = "user_suspended";
    /// <summary>A role name that is not 1 to 64 of a-z 0-9 _ . : -, or more than 32 roles.</summary>
    public const string InvalidRoles = "invalid_roles";
    /// <summary>The named user does not exist.</summary>
    public const string UserNotFound = "user_not_found";

    // DPoP (RFC 9449): proofs at token and resource requests, key-bound tokens.
    /// <summary>A DPoP proof was needed and none was sent.</summary>
    public const string DpopProofMissing = "dpop_proof_missing";
    /// <summary>The DPoP proof is not a well-formed proof: structure, JSON, missing or duplicate claims, or more than one DPoP header.</summary>
    public const string DpopProofInvalid = "dpop_proof_invalid";
    /// <summary>The DPoP proof's <c>typ</c> is not <c>dpop+jwt</c> (RFC 9449 4.3).</summary>
    public const string DpopBadTyp = "dpop_bad_typ";
    /// <summary>The DPoP proof's <c>alg</c> is not on the allowlist (never none or HMAC).</summary>
    public const string DpopAlgNotAllowed = "dpop_alg_not_allowed";
    /// <summary>The DPoP proof's <c>jwk</c> is missing, holds private members, or is refused by the key loader.</summary>
    public const string DpopJwkInvalid = "dpop_jwk_invalid";
    /// <summary>The DPoP proof's signature does not verify with its <c>jwk</c>.</summary>
    public const string DpopBadSignature = "dpop_bad_signature";
    /// <summary>The DPoP proof's <c>htm</c> is not the request's method.</summary>
    public const string DpopHtmMismatch = "dpop_htm_mismatch";
    /// <summary>The DPoP proof's <c>htu</c> is not the request's URL.</summary>
    public const string DpopHtuMismatch = "dpop_htu_mismatch";
    /// <summary>The DPoP proof's <c>iat</c> is outside the accepted window.</summary>
    public const string DpopIatOutOfWindow = "dpop_iat_out_of_window";
    /// <summary>The DPoP proof's <c>jti</c> was seen before: a replay (RFC 9449 11.1).</summary>
    public const string DpopProofReplayed = "dpop_proof_replayed";
    /// <summary>The DPoP proof's <c>ath</c> is missing or not the hash of the access token.</summary>
    public const string DpopAthMismatch = "dpop_ath_mismatch";
    /// <summary>The DPoP proof is signed by another key than the one the token or refresh family is bound to.</summary>
    public const string DpopKeyMismatch = "dpop_key_mismatch";
    /// <summary>The server requires a nonce in DPoP proofs (RFC 9449 8, 9): retry with the <c>DPoP-Nonce</c> it sent.</summary>
    public const string UseDpopNonce = "use_dpop_nonce";
    /// <summary>A DPoP-bound token presented with the <c>Bearer</c> scheme (RFC 9449 7.2): refused, no downgrade.</summary>
    public const string DpopBoundTokenAsBearer = "dpop_bound_token_as_bearer";
    /// <summary>An unbound (bearer) token presented with the <c>DPoP</c> scheme.</summary>
    public const string DpopTokenNotBound = "dpop_token_not_bound";
    /// <summary>This deployment or audience requires DPoP-bound tokens; an unbound one was presented.</summary>
    public const string DpopRequired = "dpop_required";
    /// <summary>The DPoP replay cache is full of live entries: the proof cannot be checked now (503, retry).</summary>
    public const string DpopReplayCacheFull = "dpop_replay_cache_full";
    /// <summary>This proof key has used its share of the DPoP replay cache: its proofs are refused for now (429, retry); other keys are unaffected.</summary>
    public const string DpopKeyRateLimited = "dpop_key_rate_limited";
}
