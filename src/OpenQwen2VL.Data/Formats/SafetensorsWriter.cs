using OpenQwen2VL.Data.Shards;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// Streams tensors into a safetensors file that HF safetensors/transformers read: 8-byte little-endian
/// header length, JSON header (<c>__metadata__</c> first, then the tensors), padded with spaces to a
/// multiple of 8, then the tensors' bytes back to back in header order. Hand-written because no .NET
/// library writes the format; the layout follows the safetensors specification.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Metadata HF transformers expects on PyTorch checkpoints.</summary>
    public static readonly IReadOnlyDictionary<string, string> PtMetadata = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>
    /// Writes the tensors atomically (temp file + rename). Tensors are ordered as the reference implementation
    /// orders them (dtype, larger elements first, then name), so every tensor's data starts at an offset aligned
    /// to its element size and can be viewed in place after mapping the file.
    /// </summary>
    /// <returns>the number of data bytes written (sum of the tensors' sizes)</returns>
    public static long Write(string path, IEnumerable<SafetensorsTensorSource> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = Order(tensors);
        byte[] header = BuildHeader(ordered, metadata ?? PtMetadata);
        long total = 0;
        AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BitConverter.TryWriteBytes(len, (long)header.Length);
            fs.Write(len);
            fs.Write(header);
            foreach (var t in ordered)
            {
                long before = fs.Position;
                t.WriteData(fs);
                long written = fs.Position - before;
                if (written != t.ByteLength)
                    throw new InvalidOperationException($"tensor {t.Name}: wrote {written} bytes, expected {t.ByteLength} ({t.DType} [{string.Join(",", t.Shape)}])");
                total += written;
            }
        });
        return total;
    }

    /// <summary>The tensors in file order (reference dtype order, then ordinal name); duplicate names are an error.</summary>
    public static List<SafetensorsTensorSource> Order(IEnumerable<SafetensorsTensorSource> tensors)
    {
        var list = tensors.ToList();
        var dup = list.GroupBy(t => t.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"tensor name '{dup.Key}' appears twice");
        foreach (var t in list)
        {
            if (t.Name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved");
            if (t.Shape.Any(d => d < 0)) throw new ArgumentException($"tensor {t.Name}: negative dimension");
        }
        return list.OrderByDescending(t => DTypeRank(t.DType))
                   .ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
    }

    // The safetensors reference orders data by its dtype enum, descending, then by name; element sizes never
    // increase along it, so each tensor stays aligned. Following it exactly makes our files byte-identical to HF's.
    private static readonly string[] DTypeOrder = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"];

    private static int DTypeRank(string dtype)
    {
        int r = Array.IndexOf(DTypeOrder, dtype);
        return r >= 0 ? r : throw new ArgumentException($"unsupported safetensors dtype {dtype}");
    }

    /// <summary>The JSON header bytes including the trailing space padding (length is a multiple of 8).</summary>
    public static byte[] BuildHeader(IReadOnlyList<SafetensorsTensorSource> ordered, IReadOnlyDictionary<string, string> metadata)
    {
        using var ms = new MemoryStream();
        // Relaxed escaping keeps names such as "a+b" literal; the result is still plain JSON.
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v); // caller's order (HF keeps no particular one)
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in ordered)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType);
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += t.ByteLength;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int n = (int)ms.Length;
        int padded = (n + 7) / 8 * 8;
        for (int i = n; i < padded; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }
}
