using OpenQwen2VL.Data.Shards;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// HF sharded-checkpoint index (<c>model.safetensors.index.json</c>): <c>metadata.total_size</c> (bytes of
/// tensor data over all shards) and <c>weight_map</c> (tensor name → shard file name in the same folder).
/// </summary>
public sealed record SafetensorsIndex(long TotalSize, IReadOnlyDictionary<string, string> WeightMap)
{
    public const string FileName = "model.safetensors.index.json";
    public const string SingleFileName = "model.safetensors";

    /// <summary>HF's shard naming: model-00001-of-00003.safetensors.</summary>
    public static string ShardFileName(int index, int count) => $"model-{index + 1:D5}-of-{count:D5}.safetensors";

    public static SafetensorsIndex Read(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        long total = root.TryGetProperty("metadata", out var meta) && meta.TryGetProperty("total_size", out var ts) && ts.ValueKind == JsonValueKind.Number
            ? ts.GetInt64() : -1;
        if (!root.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: no weight_map object");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in wm.EnumerateObject())
        {
            var file = p.Value.GetString() ?? throw new InvalidDataException($"{path}: weight_map[{p.Name}] is not a file name");
            if (Path.GetFileName(file) != file) throw new InvalidDataException($"{path}: weight_map[{p.Name}] = '{file}' is not a file in the index's folder");
            map[p.Name] = file;
        }
        return new SafetensorsIndex(total, map);
    }

    /// <summary>Writes the index atomically, keys sorted as HF does.</summary>
    public void Write(string path) => AtomicFile.Write(path, fs =>
    {
        using var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteStartObject("metadata");
        w.WriteNumber("total_size", TotalSize);
        w.WriteEndObject();
        w.WriteStartObject("weight_map");
        foreach (var (k, v) in WeightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
        w.WriteEndObject();
        w.WriteEndObject();
    });
}
