namespace Bouncer.Tests;

/// <summary>
/// The key-encryption key of the tests' deployments on networked stores, which refuse to start without one outside
/// Development. A fixed test value: a real deployment generates its own key file.
/// </summary>
public static class TestKeyEncryption
{
    /// <summary>32 bytes in base64url (Bouncer:KeyEncryption:Key).</summary>
    public const string Key = "dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM";

    /// <summary>The environment variable that carries <see cref="Key"/> to the CLI and to server processes.</summary>
    public const string Variable = "Bouncer__KeyEncryption__Key";
}
