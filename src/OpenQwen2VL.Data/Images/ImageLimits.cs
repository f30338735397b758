namespace OpenQwen2VL.Data.Images;

/// <summary>
/// What the decoder accepts, checked from the header before any pixel is decoded.
/// <paramref name="MaxPixels"/> defaults to PIL's Image.MAX_IMAGE_PIXELS (its decompression-bomb cap);
/// <paramref name="MinSide"/> rejects degenerate 1-pixel images; <paramref name="MaxBytes"/> caps the encoded size.
/// <see cref="DecodeBudget"/> bounds the decode buffers in flight across threads (memory bounded by configuration, not by input).
/// </summary>
public sealed record ImageLimits(long MaxPixels = 89_478_485, int MinSide = 2, long MaxBytes = 64L * 1024 * 1024)
{
    public static ImageLimits Default { get; } = new();

    /// <summary>Shared by every decode using these limits; the process-wide <see cref="PixelBudget.Shared"/> (512 MiB) unless set.</summary>
    public PixelBudget DecodeBudget { get; init; } = PixelBudget.Shared;
}
