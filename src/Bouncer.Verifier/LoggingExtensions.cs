using Microsoft.Extensions.Logging;

namespace Bouncer.Verifier;

// Fixed event ids 5101-5199. Never a token, a kid's key material or a subject.
internal static partial class LoggingExtensions
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Keys of issuer {Issuer} loaded: {Count} key(s).")]
    public static partial void KeysLoaded(this ILogger logger, string issuer, int count);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Refreshing the keys of issuer {Issuer} failed; the previous keys stay.")]
    public static partial void KeyRefreshFailed(this ILogger logger, string issuer, Exception ex);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Key {Kid} of issuer {Issuer} skipped: {Reason}.")]
    public static partial void KeySkipped(this ILogger logger, string issuer, string? kid, string reason);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "Revocation feed poll failed; retrying from the cursor.")]
    public static partial void FeedPollFailed(this ILogger logger, Exception ex);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "Start-up could not reach the authority yet; retrying.")]
    public static partial void AuthorityUnreachable(this ILogger logger, Exception ex);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Information, Message = "Downstream verifier started: authority issuer {Issuer}, {Outside} outside issuer(s).")]
    public static partial void Started(this ILogger logger, string? issuer, int outside);

    // Debug: a flood of bad tokens must not become a flood of log lines.
    [LoggerMessage(EventId = 5107, Level = LogLevel.Debug, Message = "Token refused: {Reason}.")]
    public static partial void TokenRefused(this ILogger logger, string reason);
}
