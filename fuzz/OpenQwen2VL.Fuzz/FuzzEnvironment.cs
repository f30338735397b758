namespace OpenQwen2VL.Fuzz;

/// <summary>Where the seeds' reference fixtures are: $OQVL_REFERENCE_DIR, or tests/Fixtures/reference above the program or the working folder.</summary>
public sealed class FuzzEnvironment
{
    public required string ReferenceDir { get; init; }

    public string Reference(string relative) => Path.Combine(ReferenceDir, relative);

    public static FuzzEnvironment Locate()
    {
        string? env = Environment.GetEnvironmentVariable("OQVL_REFERENCE_DIR");
        if (!string.IsNullOrWhiteSpace(env)) return new FuzzEnvironment { ReferenceDir = env };
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "Fixtures", "reference");
                if (File.Exists(Path.Combine(candidate, "tokenizer.json"))) return new FuzzEnvironment { ReferenceDir = candidate };
            }
        throw new DirectoryNotFoundException("the reference fixtures (tests/Fixtures/reference) were not found above the program or the working folder; set OQVL_REFERENCE_DIR");
    }
}
