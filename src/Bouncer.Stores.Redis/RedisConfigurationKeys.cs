namespace Bouncer.Stores.Redis;

/// <summary>
/// Which options a StackExchange.Redis configuration string sets, read as <c>ConfigurationOptions.Parse</c> reads it:
/// comma-separated tokens, an option being <c>name=value</c> with the name compared case-insensitively. By name, never by
/// substring: <c>asyncTimeout</c> contains <c>syncTimeout</c>.
/// </summary>
internal static class RedisConfigurationKeys
{
    /// <summary>True when <paramref name="configuration"/> sets the option <paramref name="name"/>.</summary>
    public static bool Sets(string configuration, string name)
    {
        foreach (var token in configuration.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = token.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && token.AsSpan(0, equals).Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }
}
