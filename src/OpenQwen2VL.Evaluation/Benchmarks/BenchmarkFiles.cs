using System.Text.Json;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>Bounded reads of benchmark data files, with every parse failure as one line naming the file.</summary>
public static class BenchmarkFiles
{
    /// <summary>1 GiB, as for the VQAv2 files: the largest of these benchmarks' files (GQA) is far smaller.</summary>
    public const long MaxBytes = 1L << 30;

    public static JsonDocument ReadJson(string path, string what)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: file not found ({what} expected)");
        return UntrustedJson.Parse(BoundedFile.ReadAllBytes(path, MaxBytes, what), path, what);
    }

    /// <summary>The non-blank lines of a JSON-lines file, each parsed or null when it is not a JSON object.</summary>
    public static IEnumerable<JsonElement?> ReadJsonLines(string path, string what)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: file not found ({what} expected)");
        var text = System.Text.Encoding.UTF8.GetString(BoundedFile.ReadAllBytes(path, MaxBytes, what));
        foreach (var line in text.Split('\n'))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement? element = null;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind == JsonValueKind.Object) element = doc.RootElement.Clone();
            }
            catch (JsonException) { }
            yield return element;
        }
    }

    /// <summary>A string or integer property as text (ids are numbers in some releases, strings in others); null if absent.</summary>
    public static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;

    /// <summary>Counts a skip reason.</summary>
    public static void Skip(Dictionary<string, int> skipped, string reason) => skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
}
