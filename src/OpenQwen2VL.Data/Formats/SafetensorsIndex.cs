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

    /// <summary>Index bytes accepted: one short line per tensor, so even a 400B-parameter model's index is well under 1 MB.</summary>
    public const long MaxIndexBytes = 64L << 20;

    public static SafetensorsIndex Read(string path)
    {
        var bytes = BoundedFile.ReadAllBytes(path, MaxIndexBytes, "a safetensors index");
        using (var doc = UntrustedJson.Parse(bytes, path, "a safetensors index"))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: not a valid safetensors index: not a JSON object");
            long total = root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object
                && meta.TryGetProperty("total_size", out var ts) && ts.ValueKind == JsonValueKind.Number && ts.TryGetInt64(out long t) ? t : -1;
            if (!root.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: not a valid safetensors index: no weight_map object");
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{path}: weight_map[{p.Name}] is not a file name");
                var file = p.Value.GetString()!;
                // Shards are files in the index's own folder: no paths, no parent or current folder.
                if (file.Length == 0 || file is "." or ".." || Path.GetFileName(file) != file)
                    throw new InvalidDataException($"{path}: weight_map[{p.Name}] = '{file}' is not a file in the index's folder");
                if (!map.TryAdd(p.Name, file)) throw new InvalidDataException($"{path}: weight_map lists {p.Name} twice");
            }
            return new SafetensorsIndex(total, map);
        }
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
