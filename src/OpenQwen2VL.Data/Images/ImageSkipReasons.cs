namespace OpenQwen2VL.Data.Images;

/// <summary>
/// The stable reason strings an image can be skipped with. Stats JSON files count skips by these keys,
/// so they are part of the data format: add new ones, never rename.
/// </summary>
public static class ImageSkipReasons
{
    /// <summary>Zero bytes.</summary>
    public const string Empty = "empty";
    /// <summary>Not one of JPEG, PNG, WebP, BMP, GIF (or not an image at all).</summary>
    public const string UnsupportedFormat = "unsupported_format";
    /// <summary>Recognised format whose header or data is invalid.</summary>
    public const string CorruptImage = "corrupt_image";
    /// <summary>The data ends before the image does.</summary>
    public const string TruncatedImage = "truncated_image";
    /// <summary>Width or height below <see cref="ImageLimits.MinSide"/>.</summary>
    public const string TooSmall = "too_small";
    /// <summary>Width x height above <see cref="ImageLimits.MaxPixels"/> (decompression bomb).</summary>
    public const string TooManyPixels = "too_many_pixels";
    /// <summary>Encoded size above <see cref="ImageLimits.MaxBytes"/>.</summary>
    public const string TooManyBytes = "too_many_bytes";

    public static IReadOnlyList<string> All { get; } =
        [Empty, UnsupportedFormat, CorruptImage, TruncatedImage, TooSmall, TooManyPixels, TooManyBytes];
}
