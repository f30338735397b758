using System.Buffers;

namespace OpenQwen2VL.Data.Images;

/// <summary>
/// Resizes 8-bit RGB exactly like PIL's <c>Image.resize(size, BICUBIC)</c> (what torchvision's Resize does on a PIL
/// image): separable, horizontal pass first into a uint8 intermediate holding only the rows the vertical pass reads,
/// then the vertical pass; integer arithmetic with 22-bit weights, +0.5 rounding and clipping to 0..255 per pass.
/// Hand-written because no .NET library reproduces PIL's antialiased resampling (SkiaSharp's cubic is a different filter).
/// </summary>
public static class BicubicResampler
{
    /// <summary>Resizes to <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static RgbImage Resize(RgbImage src, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(src);
        var dst = new byte[checked(3 * width * height)];
        Resize(src.Pixels, src.Width, src.Height, 3, dst, width, height);
        return new RgbImage(width, height, dst);
    }

    /// <summary>
    /// Resizes decoded RGBx pixels to a new RGB image; the channels are resampled independently, so the result is
    /// byte-identical to resizing the RGB copy, without making that full-size copy.
    /// </summary>
    public static RgbImage Resize(DecodedImage src, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(src);
        int n = checked(width * height);
        byte[] rgbx = ArrayPool<byte>.Shared.Rent(checked(4 * n));
        try
        {
            Resize(src.Rgbx, src.Width, src.Height, 4, rgbx, width, height);
            var rgb = new byte[3 * n];
            for (int s = 0, d = 0; d < rgb.Length; s += 4, d += 3)
            {
                rgb[d] = rgbx[s]; rgb[d + 1] = rgbx[s + 1]; rgb[d + 2] = rgbx[s + 2];
            }
            return new RgbImage(width, height, rgb);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgbx);
        }
    }

    /// <summary>
    /// Resizes packed pixels of <paramref name="channels"/> bytes (3 = RGB; 4 = RGBx, the fourth byte ignored and
    /// written as 255) from <paramref name="src"/> (srcWidth x srcHeight) into <paramref name="dst"/>.
    /// </summary>
    public static void Resize(ReadOnlySpan<byte> src, int srcWidth, int srcHeight, int channels, Span<byte> dst, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (channels is not (3 or 4)) throw new ArgumentOutOfRangeException(nameof(channels), "3 or 4 channels");
        if (src.Length < (long)channels * srcWidth * srcHeight) throw new ArgumentException("source too short", nameof(src));
        if (dst.Length < (long)channels * width * height) throw new ArgumentException("destination too short", nameof(dst));
        bool needHorizontal = width != srcWidth;
        bool needVertical = height != srcHeight;
        if (!needHorizontal && !needVertical)
        {
            src[..(channels * width * height)].CopyTo(dst);
            return;
        }
        var vert = ResampleCoefficients.Get(srcHeight, height);
        if (!needHorizontal)
        {
            ResampleKernels.Vertical(src, channels * srcWidth, 0, dst, height, vert);
            return;
        }
        var horiz = ResampleCoefficients.Get(srcWidth, width);
        if (!needVertical)
        {
            ResampleKernels.Horizontal(src, srcWidth, channels, 0, srcHeight, dst, horiz);
            return;
        }
        // Only source rows firstRow..lastRow feed the vertical pass; the intermediate holds just those (as PIL does).
        int firstRow = vert.Start[0];
        int lastRow = vert.Start[height - 1] + vert.Count[height - 1];
        int tempRows = lastRow - firstRow;
        byte[] temp = ArrayPool<byte>.Shared.Rent(channels * width * tempRows);
        try
        {
            ResampleKernels.Horizontal(src, srcWidth, channels, firstRow, tempRows, temp, horiz);
            ResampleKernels.Vertical(temp, channels * width, firstRow, dst, height, vert);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(temp);
        }
    }
}
