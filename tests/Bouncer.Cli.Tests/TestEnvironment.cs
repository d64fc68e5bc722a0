using System.Runtime.CompilerServices;
using Bouncer.Tests;

namespace Bouncer.Cli.Tests;

/// <summary>
/// The CLI runs in this process and the servers it talks to are child processes: both read the deployment's key
/// from the environment, as an operator's CLI and server would.
/// </summary>
internal static class TestEnvironment
{
    [ModuleInitializer]
    internal static void ShareKeyEncryptionKey() => Environment.SetEnvironmentVariable(TestKeyEncryption.Variable, TestKeyEncryption.Key);
}
