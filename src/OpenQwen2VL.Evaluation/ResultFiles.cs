using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Evaluation;

/// <summary>
/// How every evaluation output is written: indented JSON documents and JSON-lines predictions, non-ASCII text kept
/// readable, each file atomically (a reader never sees half a summary).
/// </summary>
public static class ResultFiles
{
    private static readonly JsonSerializerOptions Document = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Line = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void WriteJson<T>(string path, T value) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(value, Document));

    public static void WriteJsonLines<T>(string path, IEnumerable<T> values)
    {
        var lines = new StringBuilder();
        foreach (var v in values) lines.Append(JsonSerializer.Serialize(v, Line)).Append('\n');
        AtomicFile.WriteAllText(path, lines.ToString());
    }
}
