using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// Typed, bounded reads of HF <c>config.json</c> fields. A config comes from the internet: a field of the wrong JSON
/// type or outside a sane range is an <see cref="InvalidDataException"/> of one line naming the config and the field,
/// never a cast exception and never a size that makes the model allocate tens of GB.
/// </summary>
public static class HfConfigFields
{
    /// <summary>config.json bytes accepted: real ones are a few KB.</summary>
    public const long MaxConfigBytes = 16L << 20;

    /// <summary>The JSON object of a config file (bounded read; bad JSON or a non-object root is one line naming the file).</summary>
    public static JsonObject ReadObject(string file)
    {
        var bytes = BoundedFile.ReadAllBytes(file, MaxConfigBytes, "a model config");
        return ParseObject(bytes, file);
    }

    public static JsonObject ParseObject(ReadOnlySpan<byte> json, string source)
    {
        JsonNode? node;
        // Duplicate keys are an error (which of two sizes would be meant?), raised here rather than at the first lookup.
        try { node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON ({e.Message})"); }
        return node as JsonObject ?? throw new InvalidDataException($"{source}: not a JSON object");
    }

    /// <summary>An integer field in [min, max]; <paramref name="fallback"/> when absent (null fallback: the field is required).</summary>
    public static int Int(JsonNode? node, string key, string source, int min, int max, int? fallback = null)
    {
        if (node is null)
            return fallback ?? throw new InvalidDataException($"{source}: {key} is missing (a required size of the model)");
        if (node is JsonValue v && AsInt(v) is int i && i >= min && i <= max) return i;
        throw new InvalidDataException($"{source}: {key} must be an integer in [{min}, {max}], got {Show(node)}");
    }

    /// <summary>A finite number in [min, max] (<paramref name="exclusiveMin"/>: above min).</summary>
    public static double Double(JsonNode? node, string key, string source, double min, double max, double fallback, bool exclusiveMin = false)
    {
        if (node is null) return fallback;
        if (node is JsonValue v && AsDouble(v) is double d && double.IsFinite(d) && (exclusiveMin ? d > min : d >= min) && d <= max) return d;
        string range = exclusiveMin ? $"({min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]"
            : $"[{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]";
        throw new InvalidDataException($"{source}: {key} must be a number in {range}, got {Show(node)}");
    }

    public static bool Bool(JsonNode? node, string key, string source, bool fallback)
    {
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw new InvalidDataException($"{source}: {key} must be true or false, got {Show(node)}");
    }

    public static string String(JsonNode? node, string key, string source, string fallback)
    {
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue(out string? s) && s is not null) return s;
        throw new InvalidDataException($"{source}: {key} must be a string, got {Show(node)}");
    }

    // A value parsed from text is a JsonElement (TryGetValue<int> fails on 2.5, 1e6 or 2^40); one built in code is the
    // CLR value itself, so several CLR types are tried.
    private static int? AsInt(JsonValue v) =>
        v.TryGetValue(out int i) ? i
        : v.TryGetValue(out long l) && l is >= int.MinValue and <= int.MaxValue ? (int)l
        : null;

    private static double? AsDouble(JsonValue v) =>
        v.TryGetValue(out double d) ? d
        : v.TryGetValue(out int i) ? i
        : v.TryGetValue(out long l) ? l
        : v.TryGetValue(out float f) ? f
        : null;

    /// <summary>The offending value as JSON, cut short (a crafted config may put megabytes in one field).</summary>
    private static string Show(JsonNode node)
    {
        var text = node.ToJsonString();
        return text.Length <= 40 ? text : text[..40] + "...";
    }
}
