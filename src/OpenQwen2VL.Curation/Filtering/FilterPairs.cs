using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// Image-text pairs ready for the dual encoder: images decoded, resized (PIL-compatible bicubic) to a square
/// and normalised to [-1, 1] (mean 0.5, std 0.5, as SigLIP) in one CHW float block; captions as hashed features.
/// </summary>
public sealed class FilterPairs
{
    public required int ImageSize { get; init; }
    /// <summary>[N, 3, S, S] row-major.</summary>
    public required float[] Pixels { get; init; }
    public required IReadOnlyList<int[]> TextFeatures { get; init; }

    public int Count => TextFeatures.Count;

    public static FilterPairs Build(IReadOnlyList<RgbImage> images, IReadOnlyList<string> captions, int imageSize, CaptionFeaturizer featurizer)
    {
        if (images.Count != captions.Count) throw new ArgumentException("one caption per image");
        int plane = imageSize * imageSize;
        var pixels = new float[images.Count * 3 * plane];
        for (int n = 0; n < images.Count; n++)
        {
            var img = images[n].Width == imageSize && images[n].Height == imageSize ? images[n] : BicubicResampler.Resize(images[n], imageSize, imageSize);
            int baseIndex = n * 3 * plane;
            for (int p = 0; p < plane; p++)
                for (int c = 0; c < 3; c++)
                    pixels[baseIndex + c * plane + p] = img.Pixels[p * 3 + c] / 127.5f - 1f;
        }
        return new FilterPairs { ImageSize = imageSize, Pixels = pixels, TextFeatures = captions.Select(featurizer.Featurize).ToArray() };
    }
}
