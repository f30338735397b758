using Microsoft.CodeAnalysis;
using OpenQwen2VL.Analyzers;
using OpenQwen2VL.Tests.Analyzers.TorchSharpIl;

namespace OpenQwen2VL.Tests.Analyzers;

/// <summary>
/// The analyzer's hard-coded list of TorchSharp members that create a temporary Scalar
/// (src/OpenQwen2VL.Analyzers/TorchSharpTemporaryScalarMembers.txt) is exactly what TorchSharp.dll's own IL says, and
/// the analyzer names a symbol the way the IL names its definition, so no listed member can slip through unmatched.
/// </summary>
public sealed class TemporaryScalarMemberListTests
{
    static readonly Lazy<TorchSharpTemporaryScalars> TorchSharpIl =
        new(() => TorchSharpTemporaryScalars.Load(typeof(TorchSharp.Scalar).Assembly.Location));

    /// <summary>Compiler-generated methods (lambdas, iterators: "&lt;step&gt;b__2_0") cannot be called from source.</summary>
    static bool Callable(string key) => !key[..key.IndexOf('(')].Contains('<');

    [Fact]
    public void The_analyzers_list_is_what_TorchSharp_dll_creates()
    {
        var expected = TorchSharpIl.Value.Methods.Where(Callable).Order(StringComparer.Ordinal).ToList();
        var listed = TemporaryScalarAnalyzer.TemporaryScalarMembers.Order(StringComparer.Ordinal).ToList();
        if (expected.SequenceEqual(listed)) return;

        string regenerated = Path.Combine(AppContext.BaseDirectory, "TorchSharpTemporaryScalarMembers.txt");
        File.WriteAllLines(regenerated,
        [
            "# TorchSharp members that create a Scalar they never dispose (directly or through TorchSharp's own calls), as IL keys.",
            "# Generated from TorchSharp.dll by tests/OpenQwen2VL.Analyzers.Tests (TemporaryScalarMemberListTests); do not edit by hand.",
            .. expected,
        ]);
        Assert.Fail($"""
            TorchSharp.dll ({typeof(TorchSharp.Scalar).Assembly.GetName().Version}) and the analyzer's list disagree.
            Missing from the list (these would go unflagged):
              {string.Join("\n  ", expected.Except(listed))}
            Listed but no longer hazardous:
              {string.Join("\n  ", listed.Except(expected))}
            Copy {regenerated} to src/OpenQwen2VL.Analyzers/TorchSharpTemporaryScalarMembers.txt.
            """);
    }

    [Fact]
    public void The_analyzer_names_every_TorchSharp_method_as_its_IL_does()
    {
        var compilation = AnalyzerHarness.Compile("", MetadataImportOptions.All);
        var torchSharp = compilation.References.Select(compilation.GetAssemblyOrModuleSymbol).OfType<IAssemblySymbol>()
            .Single(a => a.Name == "TorchSharp");
        var symbolKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in Types(torchSharp.GlobalNamespace))
            foreach (var method in type.GetMembers().OfType<IMethodSymbol>())
                symbolKeys.Add(MemberKeys.Of(method));

        var ilKeys = TorchSharpIl.Value.AllMethods.Where(Callable).ToList();
        var unmatched = ilKeys.Where(k => !symbolKeys.Contains(k)).Order(StringComparer.Ordinal).ToList();
        Assert.True(ilKeys.Count > 5_000, $"only {ilKeys.Count} methods read from TorchSharp.dll");
        Assert.True(unmatched.Count == 0, $"{unmatched.Count} of {ilKeys.Count} TorchSharp methods get another name from MemberKeys:\n"
            + string.Join("\n", unmatched.Take(30)));
        Assert.Contains("TorchSharp.torch/Tensor::add(TorchSharp.torch/Tensor)->TorchSharp.torch/Tensor", symbolKeys);
    }

    static IEnumerable<INamedTypeSymbol> Types(INamespaceOrTypeSymbol container)
    {
        foreach (var member in container.GetMembers())
        {
            if (member is INamedTypeSymbol type) yield return type;
            if (member is INamespaceOrTypeSymbol inner)
                foreach (var t in Types(inner)) yield return t;
        }
    }
}
