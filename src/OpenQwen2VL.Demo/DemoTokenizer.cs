using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Demo;

/// <summary>
/// The demo's default tokenizer: the reference fixtures' small byte-level BPE in Qwen2's layout (1,505 ids), embedded in
/// this assembly so `oqvl demo` needs no file from the repository and downloads nothing.
/// </summary>
public static class DemoTokenizer
{
    const string ResourceName = "OpenQwen2VL.Demo.tokenizer.json";

    /// <summary>Writes the embedded tokenizer.json into <paramref name="folder"/> (atomically) and returns its path.</summary>
    public static string WriteTo(string folder)
    {
        using var stream = typeof(DemoTokenizer).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the demo assembly lacks its embedded {ResourceName}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        string path = Path.Combine(folder, "tokenizer.json");
        AtomicFile.WriteAllBytes(path, copy.ToArray());
        return path;
    }
}
