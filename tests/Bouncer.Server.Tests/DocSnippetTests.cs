using System.Reflection;
using System.Text.RegularExpressions;
using Bouncer.Server.Tests.DocSnippets;

namespace Bouncer.Server.Tests;

/// <summary>
/// Every fenced <c>csharp</c> block of README.md and docs/*.md compiled into this project (the build fails on a
/// snippet that does not compile); this checks that none was missed by the extraction and that opting out stays rare.
/// </summary>
public sealed class DocSnippetTests
{
    private static readonly string Root = typeof(DocSnippetTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!;

    private static IEnumerable<(string File, int Line, string Fence)> Fences()
    {
        foreach (var path in new[] { Path.Combine(Root, "README.md") }.Concat(Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Order()))
        {
            var lines = File.ReadAllLines(path);
            var open = false;
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (!line.StartsWith("```", StringComparison.Ordinal)) continue;
                if (open)
                {
                    open = line != "```";
                    continue;
                }
                open = true;
                if (Regex.IsMatch(line, @"^```(csharp|cs)\b", RegexOptions.IgnoreCase)) yield return (Path.GetFileName(path), i + 2, line);
            }
        }
    }

    [Fact]
    public void EveryCSharpBlock_IsCompiled_UnlessMarkedNoCompile()
    {
        var compiled = typeof(DocSnippetContext).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(DocSnippetContext)))
            .Select(t => (string)t.GetField("Source")!.GetRawConstantValue()!)
            .Order().ToList();
        var expected = Fences().Where(f => !f.Fence.Contains("no-compile", StringComparison.Ordinal))
            .Select(f => $"{f.File}:{f.Line}").Order().ToList();

        Assert.NotEmpty(expected);
        Assert.Contains(expected, s => s.StartsWith("README.md:", StringComparison.Ordinal));
        Assert.Equal(expected, compiled);
    }

    [Fact]
    public void NoCompileBlocks_AreRare()
    {
        var all = Fences().ToList();
        var skipped = all.Where(f => f.Fence.Contains("no-compile", StringComparison.Ordinal)).ToList();
        Assert.True(skipped.Count <= Math.Max(1, all.Count / 5), $"{skipped.Count} of {all.Count} C# blocks are no-compile: {string.Join(", ", skipped.Select(f => f.File + ":" + f.Line))}");
    }
}
