namespace OpenQwen2VL.Tests;

/// <summary>
/// Location of the PyTorch/HF reference fixtures: $OQVL_REFERENCE_DIR, or the in-repo copy
/// (tests/OpenQwen2VL.Tests/Fixtures/reference, see its README for provenance). Parity tests read
/// every size from the files there, so any variant the generator writes can be pointed at.
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
}
