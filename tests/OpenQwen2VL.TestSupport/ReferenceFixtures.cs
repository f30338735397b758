using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Tests;

/// <summary>
/// Location of the PyTorch/HF reference fixtures: $OQVL_REFERENCE_DIR, or the in-repo copy (tests/Fixtures/reference,
/// copied next to each test assembly; see tests/Fixtures/README.md for provenance and make_fixtures.py for the
/// generator). Parity tests read every size from the files there, so any variant the generator writes can be pointed at.
/// </summary>
public static class ReferenceFixtures
{
    public static string Dir
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("OQVL_REFERENCE_DIR");
            var dir = string.IsNullOrWhiteSpace(env) ? Path.Combine(AppContext.BaseDirectory, "Fixtures", "reference") : env;
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"reference fixtures not found at {dir} (set OQVL_REFERENCE_DIR)");
            return dir;
        }
    }

    public static string File(params string[] parts) => Path.Combine([Dir, .. parts]);

    /// <summary>The <c>__metadata__</c> of a case file.</summary>
    public static IReadOnlyDictionary<string, string> Metadata(string fileName)
    {
        using var file = SafetensorsFile.Open(File(fileName));
        return new Dictionary<string, string>(file.Metadata);
    }

    /// <summary>Pool sizes present in vlm_case.safetensors (metadata <c>pool_sizes</c>); its <c>gen_greedy</c> uses the first.</summary>
    public static int[] PoolSizes() => System.Text.Json.JsonSerializer.Deserialize<int[]>(Metadata("vlm_case.safetensors")["pool_sizes"])!;

    /// <summary>An int64 tensor of a case file, flattened.</summary>
    public static long[] ReadInt64(string fileName, string tensor)
    {
        using var file = SafetensorsFile.Open(File(fileName));
        return file.ReadInt64(tensor);
    }
}
