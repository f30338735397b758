using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// The self-describing header of packed shards (docs/packed-format.md): written as <c>DIR/header.json</c>
/// and as the member <c>__header__.json</c> at the start of every shard.
/// </summary>
public sealed record PackedHeader
{
    public const string FormatName = "oqvl-packed";
    public const int CurrentVersion = 1;
    public const string HeaderKey = "__header__";

    [JsonPropertyName("format")] public string Format { get; init; } = FormatName;
    [JsonPropertyName("version")] public int Version { get; init; } = CurrentVersion;
    [JsonPropertyName("capacity")] public int Capacity { get; init; }
    [JsonPropertyName("visual_tokens")] public int VisualTokens { get; init; }
    [JsonPropertyName("image_marker")] public int ImageMarker { get; init; } = CaptionSampleBuilder.ImageMarker;
    [JsonPropertyName("tokenizer_fingerprint")] public string TokenizerFingerprint { get; init; } = "";
    [JsonPropertyName("packing")] public string Packing { get; init; } = "ffd-global";
    [JsonPropertyName("seed")] public int Seed { get; init; }

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Parses and checks a header; throws <see cref="InvalidDataException"/> for another format or a newer version.</summary>
    public static PackedHeader Parse(ReadOnlySpan<byte> json)
    {
        PackedHeader? h;
        try { h = JsonSerializer.Deserialize<PackedHeader>(json); }
        catch (JsonException e) { throw new InvalidDataException($"unreadable packed header: {e.Message}", e); }
        if (h is null || h.Format != FormatName) throw new InvalidDataException($"not an {FormatName} header");
        if (h.Version > CurrentVersion) throw new InvalidDataException($"packed format version {h.Version} is newer than this reader ({CurrentVersion})");
        return h;
    }
}
