using System.Data.Common;
using System.Net.Sockets;

namespace Bouncer;

/// <summary>
/// Tells a store outage (unreachable server, timeout, broken connection, busy file) from a programming error, for
/// every backend without referencing their drivers: hosts answer the first with 503 and <c>store_unavailable</c>,
/// and let the second be a fault.
/// </summary>
public static class StoreFaults
{
    /// <summary>True when <paramref name="exception"/>, or one it wraps, says a store could not be reached in time.</summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is OperationCanceledException) return false;   // the caller gave up: not the store's fault
            if (e is DbException or TimeoutException or SocketException) return true;
            // IOException is also a bad request body (BadHttpRequestException) or a client gone: only a store's own
            // IOException (SqliteStoreException) means the store.
            if (e is IOException && e.GetType().Namespace?.StartsWith("Bouncer.Stores", StringComparison.Ordinal) == true) return true;
            // StackExchange.Redis (RedisConnectionException, RedisTimeoutException, ...) without a reference to it.
            if (e.GetType().FullName?.StartsWith("StackExchange.Redis.", StringComparison.Ordinal) == true) return true;
        }
        return false;
    }
}
