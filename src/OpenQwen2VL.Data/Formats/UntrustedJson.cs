using System.Text.Json;
using System.Text.Unicode;

namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// JSON read from a downloaded file. System.Text.Json checks a document's structure when it parses it, but the UTF-8 of
/// its strings only when a string is read, and then throws <see cref="InvalidOperationException"/> ("Cannot transcode
/// invalid UTF-8"), which is no user-input error: fuzzing found it in the safetensors header within a second
/// (fuzz/regressions/safetensors/). So the bytes are checked whole first, and both failures become one
/// <see cref="InvalidDataException"/> line naming the file.
/// </summary>
public static class UntrustedJson
{
    /// <summary>Refuses bytes that are not valid UTF-8 (the JSON specification's only encoding for exchanged text).</summary>
    public static void RequireUtf8(ReadOnlySpan<byte> bytes, string path, string what)
    {
        if (!Utf8.IsValid(bytes))
        {
            int at = FirstInvalidByte(bytes);
            throw new InvalidDataException($"{path}: {what} is not valid UTF-8 text (byte {at})");
        }
    }

    /// <summary>Parses <paramref name="bytes"/> after <see cref="RequireUtf8"/>; a syntax error is an <see cref="InvalidDataException"/> too.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> bytes, string path, string what, JsonDocumentOptions options = default)
    {
        RequireUtf8(bytes.Span, path, what);
        try { return JsonDocument.Parse(bytes, options); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: {what} is not valid JSON ({e.Message})", e); }
    }

    /// <summary>The object's member <paramref name="name"/>, which must be of <paramref name="kind"/>; else one line naming the file, the place and the member.</summary>
    public static JsonElement Member(JsonElement obj, string name, JsonValueKind kind, string path, string where)
    {
        if (obj.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: {where} is a JSON {Kind(obj)}, not an object");
        if (!obj.TryGetProperty(name, out var value)) throw new InvalidDataException($"{path}: {where} has no \"{name}\"");
        if (value.ValueKind != kind) throw new InvalidDataException($"{path}: {where}: \"{name}\" is a JSON {Kind(value)}, expected a JSON {Kind(kind)}");
        return value;
    }

    /// <summary>An integer member (a JSON number without fraction that fits 64 bits).</summary>
    public static long Int64(JsonElement obj, string name, string path, string where) =>
        Member(obj, name, JsonValueKind.Number, path, where).TryGetInt64(out long v) ? v
            : throw new InvalidDataException($"{path}: {where}: \"{name}\" is not a 64-bit integer");

    /// <summary>A string member.</summary>
    public static string String(JsonElement obj, string name, string path, string where) =>
        Member(obj, name, JsonValueKind.String, path, where).GetString()!;

    private static string Kind(JsonElement e) => Kind(e.ValueKind);

    private static string Kind(JsonValueKind k) => k switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "value",
    };

    private static int FirstInvalidByte(ReadOnlySpan<byte> bytes)
    {
        // Utf8.IsValid says only whether; transcoding in one go says where (bytes consumed before the first bad sequence).
        Span<char> sink = stackalloc char[256];
        int offset = 0;
        while (offset < bytes.Length)
        {
            var status = Utf8.ToUtf16(bytes[offset..], sink, out int read, out _, replaceInvalidSequences: false);
            offset += read;
            if (status == System.Buffers.OperationStatus.InvalidData || status == System.Buffers.OperationStatus.NeedMoreData) return offset;
            if (status == System.Buffers.OperationStatus.Done) break;
        }
        return offset;
    }
}
