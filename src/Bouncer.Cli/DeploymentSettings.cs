using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Memory;

namespace Bouncer.Cli;

/// <summary>
/// The deployment's <c>Bouncer:*</c> settings for commands whose decisions depend on them (<c>keys rotate|retire|revoke</c>:
/// how long a key's tokens live, how long a new key is published before it signs), read as the server reads its own:
/// <c>appsettings.json</c> in the working folder (or the file named by <c>--config</c>), then environment variables
/// (<c>Bouncer__Refresh__AccessTokenLifetime</c>), then this command's flags. Without them the CLI would decide with the
/// engine's defaults, which on a server configured for longer tokens drops a key whose tokens are still live.
/// </summary>
internal sealed class DeploymentSettings
{
    public const string AccessTokenLifetime = "Bouncer:Refresh:AccessTokenLifetime";
    public const string ExchangeTokenLifetime = "Bouncer:ExchangeTokenLifetime";
    public const string KeyPrePublicationDelay = "Bouncer:KeyPrePublicationDelay";

    public Option<string?> Config { get; } = new("--config")
    {
        Description = "The deployment's settings file (as the server's appsettings.json; default: appsettings.json in the working folder, when present).",
    };

    public Option<TimeSpan?> AccessTokenLifetimeFlag { get; } = new("--access-token-lifetime")
    {
        Description = "The server's " + AccessTokenLifetime + " (default: from the settings file or the environment).",
    };

    public Option<TimeSpan?> ExchangeTokenLifetimeFlag { get; } = new("--exchange-token-lifetime")
    {
        Description = "The server's " + ExchangeTokenLifetime + " (default: from the settings file or the environment).",
    };

    /// <summary>Adds <c>--config</c> and the lifetime flags to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Add(Config);
        command.Add(AccessTokenLifetimeFlag);
        command.Add(ExchangeTokenLifetimeFlag);
    }

    /// <summary>The configuration for this run; <paramref name="moreFlags"/> are the command's own flags as settings.</summary>
    /// <exception cref="ArgumentException">The file named by --config does not exist.</exception>
    public IConfigurationRoot Load(ParseResult parse, params (string Key, TimeSpan? Value)[] moreFlags)
    {
        var builder = new ConfigurationBuilder();
        if (parse.GetValue(Config) is { } file)
        {
            var path = Path.GetFullPath(file);
            if (!File.Exists(path)) throw new ArgumentException($"--config: {file} does not exist.");
            builder.AddJsonFile(path, optional: false);
        }
        else
        {
            builder.AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true);
        }
        builder.AddEnvironmentVariables();
        var flags = new Dictionary<string, string?>();
        foreach (var (key, value) in moreFlags.Append((AccessTokenLifetime, parse.GetValue(AccessTokenLifetimeFlag))).Append((ExchangeTokenLifetime, parse.GetValue(ExchangeTokenLifetimeFlag))))
            if (value is { } v) flags[key] = v.ToString("c", CultureInfo.InvariantCulture);
        builder.AddInMemoryCollection(flags);
        return builder.Build();
    }

    /// <summary>The settings among <paramref name="keys"/> that no file, environment variable or flag gives.</summary>
    public static IReadOnlyList<string> Missing(IConfigurationRoot configuration, params string[] keys) =>
        keys.Where(k => SourceOf(configuration, k) is null).ToList();

    /// <summary>
    /// One line saying which lifetimes the command decides with and where each came from, e.g.
    /// <c>using access-token lifetime 01:00:00 (Bouncer:Refresh:AccessTokenLifetime 01:00:00 from environment; ...)</c>.
    /// </summary>
    public static string Describe(IConfigurationRoot configuration, BouncerEngineOptions options) =>
        string.Create(CultureInfo.InvariantCulture,
            $"using access-token lifetime {options.MaxAccessTokenLifetime:c} ({Part(configuration, AccessTokenLifetime, options.Refresh.AccessTokenLifetime)}; "
            + $"{Part(configuration, ExchangeTokenLifetime, options.ExchangeTokenLifetime)}), "
            + $"key pre-publication delay {options.KeyPrePublicationDelay:c} ({Source(configuration, KeyPrePublicationDelay)})");

    private static string Part(IConfigurationRoot configuration, string key, TimeSpan value) =>
        string.Create(CultureInfo.InvariantCulture, $"{key} {value:c} {(SourceOf(configuration, key) is { } s ? "from " + s : "default")}");

    private static string Source(IConfigurationRoot configuration, string key) =>
        SourceOf(configuration, key) is { } s ? key + " from " + s : "default";

    // The last provider that has the key wins, as in the configuration itself.
    private static string? SourceOf(IConfigurationRoot configuration, string key)
    {
        foreach (var provider in configuration.Providers.Reverse())
        {
            if (!provider.TryGet(key, out var value) || string.IsNullOrWhiteSpace(value)) continue;
            return provider switch
            {
                FileConfigurationProvider file => file.Source.Path ?? "settings file",
                EnvironmentVariablesConfigurationProvider => "environment",
                MemoryConfigurationProvider => "flag",
                _ => provider.ToString(),
            };
        }
        return null;
    }
}
