using TorchSharp;

namespace OpenQwen2VL.Tests.Hygiene;

/// <summary>
/// Keeps the "Unknown scalar type" crash out of the code base: no method of ours may hand libtorch a Scalar or Tensor
/// that nothing keeps alive (see <see cref="TemporaryNativeObjectScanner"/> for why such a call crashes at random).
/// </summary>
public class TemporaryNativeObjectTests
{
    // Every assembly of ours that calls TorchSharp: the test fails if one is missing next to the tests or a new one appears.
    static readonly string[] OurTorchAssemblies =
        ["OpenQwen2VL.Model", "OpenQwen2VL.Training", "OpenQwen2VL.Curation", "OpenQwen2VL.Evaluation", "OpenQwen2VL.Demo", "oqvl", "OpenQwen2VL.Benchmarks"];

    static readonly Lazy<TorchSharpTemporaryScalars> TorchSharpApis =
        new(() => TorchSharpTemporaryScalars.Load(typeof(Scalar).Assembly.Location));

    [Fact]
    public void No_assembly_of_ours_hands_libtorch_an_unowned_temporary_Scalar_or_Tensor()
    {
        var dir = AppContext.BaseDirectory;
        var referencingTorch = Directory.GetFiles(dir, "*.dll")
            .Where(f => Path.GetFileName(f) is var n && (n.StartsWith("OpenQwen2VL.", StringComparison.Ordinal) || n == "oqvl.dll"))
            .Where(f => Path.GetFileNameWithoutExtension(f) != typeof(TemporaryNativeObjectTests).Assembly.GetName().Name)
            .Where(ReferencesTorchSharp)
            .Select(f => Path.GetFileNameWithoutExtension(f)!)
            .ToHashSet();
        Assert.Equal(OurTorchAssemblies.Order(), referencingTorch.Order());

        var sites = referencingTorch.Order()
            .SelectMany(a => TemporaryNativeObjectScanner.Scan(Path.Combine(dir, a + ".dll"), TorchSharpApis.Value))
            .ToList();
        Assert.True(sites.Count == 0,
            $"{sites.Count} call sites hand libtorch a temporary that a GC can finalise mid-call (TorchSharp PR #1434/#1496):\n"
            + string.Join("\n", sites));
    }

    [Fact]
    public void Scanner_flags_every_hazardous_pattern_and_accepts_every_kept_Scalar()
    {
        var sites = TemporaryNativeObjectScanner.Scan(typeof(TemporaryNativeObjectTests).Assembly.Location, TorchSharpApis.Value,
            method => method.StartsWith(typeof(TemporaryScalarPatterns).FullName + ".", StringComparison.Ordinal));
        var flaggedMethods = sites.Select(s => s.Method.Split('.')[^1]).ToHashSet();
        var patterns = typeof(TemporaryScalarPatterns)
            .GetMethods(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
            .Select(m => m.Name).ToList();

        var expectedFlagged = patterns.Where(n => n.StartsWith("Flagged_", StringComparison.Ordinal)).ToList();
        var expectedKept = patterns.Where(n => n.StartsWith("Kept_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(expectedFlagged);
        Assert.NotEmpty(expectedKept);
        Assert.All(expectedFlagged, n => Assert.Contains(n, flaggedMethods));
        Assert.All(expectedKept, n => Assert.DoesNotContain(n, flaggedMethods));
    }

    static bool ReferencesTorchSharp(string path)
    {
        using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(path));
        var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        return md.AssemblyReferences.Any(h => md.GetString(md.GetAssemblyReference(h).Name) == "TorchSharp");
    }
}
