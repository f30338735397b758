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
    /// Writes the tensors atomically (temp file + rename). Tensors are ordered by element size (largest
    /// first) then name, as the reference implementation does, so every tensor's data starts at an
    /// offset aligned to its element size and can be viewed in place after mapping the file.
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

    /// <summary>Sorted, de-duplicated list in file order (element size descending, then ordinal name).</summary>
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
        return list.OrderByDescending(t => SafetensorsEntry.ElementSize(t.DType))
                   .ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
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
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
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
