using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using OpenQwen2VL.Analyzers;

namespace OpenQwen2VL.Tests.Analyzers;

/// <summary>
/// Compiles a snippet against TorchSharp and runs <see cref="TemporaryScalarAnalyzer"/> on it. A line that ends in a
/// comment naming rule ids (<c>// OQVL0003</c>, <c>// OQVL0003 OQVL0001</c>) expects exactly those diagnostics on it;
/// every other line expects none.
/// </summary>
public static partial class AnalyzerHarness
{
    /// <summary>Usings and a stand-in for OpenQwen2VL.Model.CachedScalars that every snippet gets.</summary>
    const string Prelude = """
        using System;
        using System.Linq;
        using TorchSharp;
        using static TorchSharp.torch;

        static class CachedScalars
        {
            public static readonly Scalar Zero = 0.ToScalar();
            public static readonly Scalar One = 1.ToScalar();
            public static readonly Scalar Two = 2.ToScalar();
        }

        """;

    static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is var n && (n.StartsWith("System.", StringComparison.Ordinal) || n is "netstandard.dll" or "mscorlib.dll"));
        return platform.Append(typeof(TorchSharp.Scalar).Assembly.Location).Distinct()
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    });

    public static CSharpCompilation Compile(string source, MetadataImportOptions import = MetadataImportOptions.Public)
    {
        var tree = CSharpSyntaxTree.ParseText(Prelude + source, new CSharpParseOptions(LanguageVersion.Latest), path: "Snippet.cs");
        return CSharpCompilation.Create("Snippet", [tree], References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                metadataImportOptions: import));
    }

    /// <summary>The analyzer's diagnostics on the snippet, after checking that it compiles.</summary>
    public static ImmutableArray<Diagnostic> Diagnose(string source)
    {
        var compilation = Compile(source);
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "the snippet does not compile:\n" + string.Join("\n", errors));
        return compilation.WithAnalyzers([new TemporaryScalarAnalyzer()]).GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
    }

    /// <summary>The analyzer's diagnostics on code compiled against the core library alone.</summary>
    public static ImmutableArray<Diagnostic> DiagnoseWithoutTorchSharp(string source) =>
        CSharpCompilation.Create("NoTorch", [CSharpSyntaxTree.ParseText(source)],
                [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)])
            .WithAnalyzers([new TemporaryScalarAnalyzer()]).GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();

    /// <summary>Runs the analyzer and asserts the diagnostics the snippet's comments announce, line by line.</summary>
    public static ImmutableArray<Diagnostic> Verify(string source)
    {
        var diagnostics = Diagnose(source);
        int offset = Prelude.Split('\n').Length - 1;
        var expected = source.Split('\n')
            .SelectMany((line, i) => Expected().Match(line) is { Success: true } m
                ? m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(id => $"{i + 1}: {id}")
                : [])
            .Order(StringComparer.Ordinal).ToList();
        var actual = diagnostics
            .Select(d => $"{d.Location.GetLineSpan().StartLinePosition.Line + 1 - offset}: {d.Id}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.True(expected.SequenceEqual(actual),
            $"expected\n  {string.Join("\n  ", expected)}\nbut the analyzer reported\n  {string.Join("\n  ", diagnostics.Select(d => $"{d.Location.GetLineSpan().StartLinePosition.Line + 1 - offset}: {d}"))}");
        return diagnostics;
    }

    [GeneratedRegex(@"//\s*((?:OQVL\d{4}\s*)+)$")]
    private static partial Regex Expected();
}
