using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// The <c>KEY.json</c> member of one packed sequence (docs/packed-format.md): token ids of the
/// concatenated samples with <see cref="CaptionSampleBuilder.ImageMarker"/> where images go, the estimated
/// length of each sample, their uids, and the image count (images are <c>KEY.img000.EXT</c>, ...).
/// </summary>
public sealed record PackedSequence
{
    [JsonPropertyName("ids")] public int[] Ids { get; init; } = [];
    [JsonPropertyName("sample_lengths")] public int[] SampleLengths { get; init; } = [];
    [JsonPropertyName("uids")] public string[] Uids { get; init; } = [];
    [JsonPropertyName("n_images")] public int ImageCount { get; init; }

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this);

    public static PackedSequence Parse(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<PackedSequence>(json) ?? throw new InvalidDataException("empty packed sequence json");

    /// <summary>Member extension of image <paramref name="index"/> ("img000.jpg").</summary>
    public static string ImageMemberExtension(int index, string imageExtension) => $"img{index:D3}.{imageExtension}";
}
