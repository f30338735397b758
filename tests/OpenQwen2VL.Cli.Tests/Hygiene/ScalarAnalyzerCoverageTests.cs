using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace OpenQwen2VL.Tests.Hygiene;

/// <summary>
/// Keeps the "Unknown scalar type" crash out of the code base: every assembly of ours that calls TorchSharp was compiled
/// with src/OpenQwen2VL.Analyzers (TemporaryScalarAnalyzer), whose rules make a Scalar nothing keeps alive, a TorchSharp
/// member that creates one, and TorchSharp's optimisers build errors. Directory.Build.targets adds the analyzer to every
/// project under src/ and bench/ together with the assembly metadata this test reads, so the check is that no project
/// of ours escaped it (one moved elsewhere, or one that turned it off).
/// </summary>
public class ScalarAnalyzerCoverageTests
{
    // Every assembly of ours that calls TorchSharp: the test fails if one is missing next to the tests or a new one appears.
    static readonly string[] OurTorchAssemblies =
        ["OpenQwen2VL.Model", "OpenQwen2VL.Training", "OpenQwen2VL.Curation", "OpenQwen2VL.Evaluation", "OpenQwen2VL.Demo", "oqvl", "OpenQwen2VL.Benchmarks"];

    [Fact]
    public void Every_assembly_of_ours_that_calls_TorchSharp_was_compiled_with_the_TorchSharp_analyzer()
    {
        var dir = AppContext.BaseDirectory;
        var referencingTorch = Directory.GetFiles(dir, "*.dll")
            .Where(f => Path.GetFileName(f) is var n && (n.StartsWith("OpenQwen2VL.", StringComparison.Ordinal) || n == "oqvl.dll"))
            .Where(f => Path.GetFileNameWithoutExtension(f) != typeof(ScalarAnalyzerCoverageTests).Assembly.GetName().Name)
            .Where(ReferencesTorchSharp)
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f)!);
        Assert.Equal(OurTorchAssemblies.Order(), referencingTorch.Keys.Order());

        var unchecked_ = referencingTorch
            .Where(a => !Assembly.LoadFrom(a.Value).GetCustomAttributes<AssemblyMetadataAttribute>()
                .Any(m => m.Key == "OpenQwen2VL.Analyzers" && m.Value == "TemporaryScalarAnalyzer"))
            .Select(a => a.Key).ToList();
        Assert.True(unchecked_.Count == 0,
            $"compiled without src/OpenQwen2VL.Analyzers (see Directory.Build.props, OqvlScalarAnalyzer): {string.Join(", ", unchecked_)}");
    }

    static bool ReferencesTorchSharp(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        return md.AssemblyReferences.Any(h => md.GetString(md.GetAssemblyReference(h).Name) == "TorchSharp");
    }
}
