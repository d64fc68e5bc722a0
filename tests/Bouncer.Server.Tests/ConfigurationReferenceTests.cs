using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Bouncer.AspNetCore;

namespace Bouncer.Server.Tests;

/// <summary>
/// docs/configuration.md is generated from the options types (BouncerOptions and every nested options object): each
/// bindable setting with its type, default and XML doc (range and effect). The test fails when the file differs from
/// what the types say; BOUNCER_REGENERATE_DOCS=1 rewrites it.
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    private static readonly string DocPath = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../docs/configuration.md"));

    [Fact]
    public void ConfigurationReference_MatchesTheOptionsTypes()
    {
        var generated = Generate();
        if (Environment.GetEnvironmentVariable("BOUNCER_REGENERATE_DOCS") == "1") File.WriteAllText(DocPath, generated);
        Assert.True(File.Exists(DocPath), "docs/configuration.md is missing: run the test with BOUNCER_REGENERATE_DOCS=1");
        var current = File.ReadAllText(DocPath);
        Assert.True(current == generated, "docs/configuration.md differs from the options types: run this test with BOUNCER_REGENERATE_DOCS=1 and review the diff.");
        // The defaults a newcomer trips over are stated.
        Assert.Contains("| `Bouncer:Issuer` | string | `urn:bouncer` |", current);
        Assert.Contains("| `Bouncer:Audience` | string | `bouncer` |", current);
    }

    private static string Generate()
    {
        var docs = new Dictionary<string, string>();
        foreach (var assembly in new[] { typeof(BouncerOptions).Assembly, typeof(BouncerEngineOptions).Assembly })
        {
            var xml = Path.ChangeExtension(assembly.Location, ".xml");
            foreach (var member in XDocument.Load(xml).Descendants("member"))
                docs[(string)member.Attribute("name")!] = Clean(member.Element("summary"));
        }
        var text = new StringBuilder();
        text.Append("# Configuration reference\n\n");
        text.Append("Generated from the options types by `ConfigurationReferenceTests` (tests/Bouncer.Server.Tests): run it with\n");
        text.Append("`BOUNCER_REGENERATE_DOCS=1` after changing an option. Every setting binds from the `Bouncer` section\n");
        text.Append("(`appsettings.json`, environment `Bouncer__Sessions__IdleTimeout`, command line `--Bouncer:Sessions:IdleTimeout=`)\n");
        text.Append("and is validated at start: a bad value stops the app with one line naming the setting. Durations are\n");
        text.Append("`[d.]hh:mm:ss`. The server host adds `Bouncer:Store`, `Bouncer:Connection`, `Bouncer:ListenConnection`, `Bouncer:StorePrefix`,\n");
        text.Append("`Bouncer:Demo`, `Bouncer:MetricsPassword` and `Bouncer:TrustedProxies` (README, docs/postgres.md).\n\n");
        text.Append("| setting | type | default | range and effect |\n|---|---|---|---|\n");
        Write(text, "Bouncer", typeof(BouncerOptions), new BouncerOptions(), docs);
        return text.ToString();
    }

    private static void Write(StringBuilder text, string prefix, Type type, object defaults, Dictionary<string, string> docs)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.MetadataToken).OrderBy(p => p.DeclaringType == type ? 1 : 0))
        {
            if (property.SetMethod is not { IsPublic: true } || property.PropertyType == typeof(BouncerEvents)) continue;
            var value = property.GetValue(defaults);
            var kind = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var key = $"P:{property.DeclaringType!.FullName}.{property.Name}";
            if (IsNested(kind))
            {
                text.Append($"| `{prefix}:{property.Name}` | section | {(value is null ? "off" : "on")} | {docs.GetValueOrDefault(key, "")} |\n");
                Write(text, prefix + ":" + property.Name, kind, value ?? Activator.CreateInstance(kind)!, docs);
                continue;
            }
            text.Append($"| `{prefix}:{property.Name}` | {TypeName(property.PropertyType)} | {Default(value)} | {docs.GetValueOrDefault(key, "")} |\n");
        }
    }

    private static bool IsNested(Type type) => type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type) && type.Name.EndsWith("Options", StringComparison.Ordinal);

    private static string TypeName(Type type) => Nullable.GetUnderlyingType(type) is { } inner ? TypeName(inner) + "?" : type switch
    {
        _ when type == typeof(string) => "string",
        _ when type == typeof(int) => "int",
        _ when type == typeof(bool) => "bool",
        _ when type == typeof(TimeSpan) => "duration",
        _ when type == typeof(byte[]) => "base64 bytes",
        _ when type.IsEnum => string.Join(" \\| ", Enum.GetNames(type)),
        _ when type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) => "list of " + TypeName(type.GetGenericArguments()[0]),
        _ => type.Name,
    };

    private static string Default(object? value) => value switch
    {
        null => "none",
        string s => s.Length == 0 ? "empty" : $"`{s}`",
        bool b => b ? "`true`" : "`false`",
        TimeSpan t => $"`{t.ToString("c", CultureInfo.InvariantCulture)}`",
        IList { Count: 0 } => "empty",
        IEnumerable list and not string => "`" + string.Join(",", list.Cast<object>()) + "`",
        IFormattable f => $"`{f.ToString(null, CultureInfo.InvariantCulture)}`",
        _ => $"`{value}`",
    };

    private static string Clean(XElement? summary)
    {
        if (summary is null) return "";
        foreach (var reference in summary.Descendants().Where(e => e.Name == "see" || e.Name == "paramref" || e.Name == "typeparamref").ToList())
        {
            var name = (string?)reference.Attribute("cref") ?? (string?)reference.Attribute("name") ?? (string?)reference.Attribute("langword") ?? "";
            reference.ReplaceWith("`" + name[(name.LastIndexOf('.') + 1)..] + "`");
        }
        foreach (var code in summary.Descendants("c").ToList()) code.ReplaceWith("`" + code.Value + "`");
        return Whitespace().Replace(summary.Value, " ").Trim().Replace("|", "\\|");
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
