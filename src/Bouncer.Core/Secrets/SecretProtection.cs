using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bouncer.Secrets;

/// <summary>Chooses what encrypts a deployment's secrets at rest, or refuses to start without one where it matters.</summary>
internal static partial class SecretProtection
{
    /// <summary>
    /// In order: the <c>Bouncer:KeyEncryption</c> settings (an operator's override); the protector chosen in code (Data
    /// Protection); the backend's default key file (SQLite, beside its database); none for stores that keep nothing at
    /// rest (memory). A networked store without any refuses to start outside Development.
    /// </summary>
    public static ISecretProtector? Resolve(IServiceProvider services, KeyEncryptionOptions settings, BouncerStores stores)
    {
        if (settings.Key is { } key) return KeyFileSecretProtector.FromKey(key);
        if (settings.KeyFile is { } file) return KeyFileSecretProtector.OpenOrCreate(file);
        if (services.GetService<SecretProtectorChoice>()?.Factory(services) is { } chosen) return chosen;
        if (!stores.PersistsSecrets) return null;
        if (stores.DefaultKeyFile is { } beside) return KeyFileSecretProtector.OpenOrCreate(beside);
        if (services.GetService<IHostEnvironment>()?.IsDevelopment() == true)
        {
            LogPlainSecrets(services.GetService<ILoggerFactory>()?.CreateLogger("Bouncer.Secrets") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, stores.Name);
            return null;
        }
        // ASVS 5.0 V11.5: key material at rest is protected by a key kept apart from it.
        throw new InvalidOperationException(
            $"Bouncer:KeyEncryption:KeyFile is not set: the {stores.Name} store would hold the signing keys in plain text; name a key file every instance shares (created with mode 0600 when missing), set Bouncer:KeyEncryption:Key, or configure an ASP.NET Core Data Protection key ring.");
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning,
        Message = "Development: the {Store} store holds Bouncer's signing keys in plain text, because Bouncer:KeyEncryption:KeyFile is not set. Outside Development this refuses to start.")]
    private static partial void LogPlainSecrets(ILogger logger, string store);
}
