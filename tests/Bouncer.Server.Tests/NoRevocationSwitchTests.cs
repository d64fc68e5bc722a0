using System.Reflection;
using System.Text.RegularExpressions;

namespace Bouncer.Server.Tests;

/// <summary>
/// Nothing public in the library can turn revocation off: the simulator's push toggle and demo clock live in the
/// demo host (Bouncer.Server) only. A public settable switch or a method named for it in Bouncer.Core or
/// Bouncer.AspNetCore fails here.
/// </summary>
public sealed partial class NoRevocationSwitchTests
{
    // Names of switches: what the old runtime had (PushEnabled, DemoClockOffsets) and their likely spellings.
    [GeneratedRegex("pushenabled|enablepush|disablepush|demo|clockoffset|skiprevocation|ignorerevocation|revocationenabled|disablerevocation|checkrevocation", RegexOptions.IgnoreCase)]
    private static partial Regex Switchy();

    // Any settable flag about pushes or revocation is a switch, whatever it is called.
    private static bool IsRevocationFlag(MemberInfo m) =>
        m is PropertyInfo { CanWrite: true, PropertyType: var type } p && p.SetMethod!.IsPublic && type == typeof(bool)
        && (m.Name.Contains("Push", StringComparison.OrdinalIgnoreCase) || m.Name.Contains("Revocation", StringComparison.OrdinalIgnoreCase));

    [Theory]
    [InlineData(typeof(Bouncer.BouncerEngineOptions))]             // Bouncer.Core
    [InlineData(typeof(Bouncer.AspNetCore.BouncerOptions))]         // Bouncer.AspNetCore
    public void Library_HasNoPublicMemberThatSwitchesRevocationOff(Type anchor)
    {
        var offenders = anchor.Assembly.GetExportedTypes()
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(m => m is PropertyInfo { CanWrite: true } p && p.SetMethod!.IsPublic || m is MethodInfo { IsSpecialName: false } || m is FieldInfo { IsInitOnly: false, IsLiteral: false })
                .Where(m => Switchy().IsMatch(m.Name) || IsRevocationFlag(m))
                .Select(m => $"{t.FullName}.{m.Name}"))
            .ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void DemoSwitches_LiveInTheDemoHostOnly()
    {
        Assert.Equal("Bouncer.Server", typeof(DemoState).Assembly.GetName().Name);
        Assert.Null(typeof(Bouncer.AspNetCore.BouncerOptions).GetProperty("Demo"));
    }
}
