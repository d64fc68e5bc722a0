using Bouncer;
using Bouncer.AspNetCore;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Encrypts Bouncer's secrets at rest with the app's ASP.NET Core Data Protection key ring.</summary>
public static class BouncerDataProtectionExtensions
{
    /// <summary>
    /// Encrypts the signing keys and other secrets with the app's Data Protection key ring (register it with
    /// <c>AddDataProtection().PersistKeysTo...()</c>; instances sharing a store must share the ring and
    /// <c>SetApplicationName</c>). Without this call, a key ring the app persisted explicitly is used as well; the
    /// machine-local default ring is not, since other instances cannot read it.
    /// </summary>
    public static BouncerBuilder ProtectSecretsWithDataProtection(this BouncerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddDataProtection();
        return builder.ProtectSecretsWith(sp => new DataProtectionSecretProtector(sp.GetRequiredService<IDataProtectionProvider>()));
    }

    /// <summary>The app's key ring when it named where the ring is kept (a shared repository), otherwise no opinion.</summary>
    internal static BouncerBuilder ProtectSecretsWithConfiguredKeyRing(this BouncerBuilder builder) =>
        builder.ProtectSecretsWith(sp =>
            sp.GetService<IOptions<KeyManagementOptions>>()?.Value.XmlRepository is not null && sp.GetService<IDataProtectionProvider>() is { } provider
                ? new DataProtectionSecretProtector(provider)
                : null);
}
