using System.Security.Cryptography;
using Bouncer.Secrets;
using Microsoft.AspNetCore.DataProtection;

namespace Bouncer.AspNetCore;

/// <summary>
/// Encrypts Bouncer's secrets at rest with ASP.NET Core Data Protection: instances that share a Data Protection key
/// ring (on Redis, a file share, Azure Blob Storage, ...) share the key-encryption key without a key file. A stored
/// value reads <c>bouncer-dp:v1:&lt;protected payload&gt;</c>; each secret name has its own purpose string, so a value
/// does not decrypt under another name.
/// </summary>
public sealed class DataProtectionSecretProtector : ISecretProtector
{
    private const string Prefix = "bouncer-dp:v1:";
    private readonly IDataProtector _root;

    /// <summary>Protects with <paramref name="provider"/>'s key ring, under the purpose <c>Bouncer.Secrets.v1</c>.</summary>
    public DataProtectionSecretProtector(IDataProtectionProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        _root = provider.CreateProtector("Bouncer.Secrets.v1");
    }

    /// <inheritdoc/>
    public string Description => "the ASP.NET Core Data Protection key ring";

    /// <inheritdoc/>
    public bool IsProtected(string stored) => stored.StartsWith(Prefix, StringComparison.Ordinal);

    /// <inheritdoc/>
    public string Protect(string name, string plaintext) => Prefix + _root.CreateProtector(name).Protect(plaintext);

    /// <inheritdoc/>
    public string Unprotect(string name, string stored)
    {
        if (!IsProtected(stored)) throw new InvalidOperationException($"The stored secret '{name}' is not in the Data Protection format.");
        try
        {
            return _root.CreateProtector(name).Unprotect(stored[Prefix.Length..]);
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException(
                $"Bouncer cannot decrypt its stored secret '{name}' with {Description} ({e.Message}); every instance sharing a store needs the same key ring and application name.", e);
        }
    }
}
