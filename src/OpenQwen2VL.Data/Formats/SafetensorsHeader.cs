using System.Text.Json;

namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// The validated JSON header of a safetensors file. Every entry is checked before the file's data is touched, so a
/// crafted header can neither point a read outside the data section (or into the header) nor alias two tensors:
/// types of every field, known dtypes, non-negative dimensions, offsets 0 &lt;= begin &lt;= end &lt;= data length with
/// end - begin = elements x element size (overflow-checked), no two tensors sharing a byte. Any violation is an
/// <see cref="InvalidDataException"/> naming the file and the tensor.
/// </summary>
public sealed class SafetensorsHeader
{
    /// <summary>Header bytes accepted: the reference implementation's limit (MAX_HEADER_SIZE, 100 MB); a real header is KBs.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Dimensions per tensor: generous (checkpoints use at most 5) and far below what libtorch accepts.</summary>
    public const int MaxRank = 32;

    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Entries with absolute file offsets, in header order.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    private SafetensorsHeader(IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafetensorsEntry> entries)
    {
        Metadata = metadata;
        Entries = entries;
    }

    /// <summary>
    /// Validates the 8-byte little-endian header length of a file of <paramref name="fileLength"/> bytes (before anything
    /// of that size is allocated) and returns it.
    /// </summary>
    public static long CheckHeaderLength(string path, ulong headerLength, long fileLength)
    {
        if (headerLength == 0 || headerLength > MaxHeaderBytes)
            throw new InvalidDataException($"{path}: bad safetensors header length {headerLength} (must be 1..{MaxHeaderBytes}): not a safetensors file or a corrupt one");
        if ((long)headerLength > fileLength - 8)
            throw new InvalidDataException($"{path}: safetensors header length {headerLength} exceeds the file ({fileLength} bytes): truncated or not a safetensors file");
        return (long)headerLength;
    }

    /// <summary>Parses and validates header JSON that sits at bytes [8, 8 + json.Length) of a file of <paramref name="fileLength"/> bytes.</summary>
    public static SafetensorsHeader Parse(string path, ReadOnlyMemory<byte> json, long fileLength)
    {
        long dataStart = 8 + json.Length;
        long dataLength = fileLength - dataStart;
        // Invalid UTF-8 inside a name would pass the parser and throw only when the name is read (UntrustedJson says why).
        if (!System.Text.Unicode.Utf8.IsValid(json.Span)) throw Bad(path, "the header is not valid UTF-8 text");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw Bad(path, $"the header is not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(path, $"the header is a JSON {Kind(root)}, not an object");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<SafetensorsEntry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var spans = new List<(long Begin, long End, string Name)>();
            foreach (var prop in root.EnumerateObject())
            {
                if (!names.Add(prop.Name)) throw Bad(path, $"'{prop.Name}' appears twice in the header");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(path, $"__metadata__ is a JSON {Kind(prop.Value)}, not an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad(path, $"__metadata__[{m.Name}] is a JSON {Kind(m.Value)}, not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                var (entry, begin, end) = ParseEntry(path, prop, dataStart, dataLength);
                entries.Add(entry);
                if (end > begin) spans.Add((begin, end, prop.Name));
            }
            // Two tensors sharing bytes would alias each other's data.
            spans.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            for (int i = 1; i < spans.Count; i++)
                if (spans[i].Begin < spans[i - 1].End)
                    throw Bad(path, $"tensors {spans[i - 1].Name} [{spans[i - 1].Begin}, {spans[i - 1].End}) and {spans[i].Name} [{spans[i].Begin}, {spans[i].End}) overlap");
            return new SafetensorsHeader(metadata, entries);
        }
    }

    private static (SafetensorsEntry Entry, long Begin, long End) ParseEntry(string path, JsonProperty prop, long dataStart, long dataLength)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw Bad(path, $"tensor {name}: a JSON {Kind(v)}, not an object with dtype, shape and data_offsets");

        if (!v.TryGetProperty("dtype", out var dt)) throw Bad(path, $"tensor {name}: no dtype");
        if (dt.ValueKind != JsonValueKind.String) throw Bad(path, $"tensor {name}: dtype is a JSON {Kind(dt)}, not a string");
        string dtype = dt.GetString()!;
        if (SafetensorsEntry.TryElementSize(dtype) is not int elementSize) throw Bad(path, $"tensor {name}: unknown dtype '{Clip(dtype)}'");

        if (!v.TryGetProperty("shape", out var sh)) throw Bad(path, $"tensor {name}: no shape");
        if (sh.ValueKind != JsonValueKind.Array) throw Bad(path, $"tensor {name}: shape is a JSON {Kind(sh)}, not an array of integers");
        if (sh.GetArrayLength() > MaxRank) throw Bad(path, $"tensor {name}: {sh.GetArrayLength()} dimensions (at most {MaxRank})");
        var shape = new long[sh.GetArrayLength()];
        int d = 0;
        foreach (var dim in sh.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long n) || n < 0)
                throw Bad(path, $"tensor {name}: shape dimension {Clip(dim.GetRawText())} is not a non-negative integer");
            shape[d++] = n;
        }

        if (!v.TryGetProperty("data_offsets", out var offs)) throw Bad(path, $"tensor {name}: no data_offsets");
        if (offs.ValueKind != JsonValueKind.Array || offs.GetArrayLength() != 2) throw Bad(path, $"tensor {name}: data_offsets is not an array [begin, end]");
        long begin = Offset(path, name, offs[0]), end = Offset(path, name, offs[1]);
        // Offsets are relative to the first byte after the header and must stay inside the data section.
        if (end < begin) throw Bad(path, $"tensor {name}: data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength) throw Bad(path, $"tensor {name}: data_offsets [{begin}, {end}] run past the data section ({dataLength} bytes)");

        long expected;
        try { expected = checked(shape.Aggregate(1L, (a, b) => a * b) * elementSize); }
        catch (OverflowException) { throw Bad(path, $"tensor {name}: shape [{string.Join(",", shape)}] overflows a 64-bit byte count"); }
        if (end - begin != expected)
            throw Bad(path, $"tensor {name}: data_offsets [{begin}, {end}] hold {end - begin} bytes, but {dtype} [{string.Join(",", shape)}] needs {expected}");
        return (new SafetensorsEntry(name, dtype, shape, dataStart + begin, end - begin), begin, end);
    }

    private static long Offset(string path, string name, JsonElement e) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) && v >= 0 ? v
            : throw Bad(path, $"tensor {name}: data offset {Clip(e.GetRawText())} is not a non-negative integer");

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "...";

    private static InvalidDataException Bad(string path, string problem) => new($"{path}: not a valid safetensors file: {problem}");
}
