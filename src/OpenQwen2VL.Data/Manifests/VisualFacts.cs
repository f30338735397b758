using System.Text.Json.Serialization;

namespace OpenQwen2VL.Data.Manifests;

/// <summary>
/// What a consumer of images must agree with: the visual tokens each image becomes (a pooled grid of side
/// <see cref="PoolSide"/>), the model's input size and the normalisation of its pixels.
/// </summary>
public sealed record VisualFacts
{
    [JsonPropertyName("tokens_per_image")] public required int TokensPerImage { get; init; }
    /// <summary>The model's input side, or for packed data the side images were shrunk to (null: original images kept).</summary>
    [JsonPropertyName("image_size")] public int? ImageSize { get; init; }
    [JsonPropertyName("image_mean")] public float[]? ImageMean { get; init; }
    [JsonPropertyName("image_std")] public float[]? ImageStd { get; init; }

    [JsonIgnore] public int PoolSide => (int)Math.Round(Math.Sqrt(TokensPerImage));

    /// <summary>"144 visual tokens per image (pool 12)".</summary>
    public string DescribeTokens() => DescribeTokens(TokensPerImage);

    public static string DescribeTokens(int tokens)
    {
        int side = (int)Math.Round(Math.Sqrt(tokens));
        return side * side == tokens ? $"{tokens} visual tokens per image (pool {side}x{side})" : $"{tokens} visual tokens per image";
    }
}
