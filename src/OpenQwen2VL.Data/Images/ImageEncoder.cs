using SkiaSharp;

namespace OpenQwen2VL.Data.Images;

/// <summary>Re-encoding for packed shards: JPEG via SkiaSharp, and shrinking so the short side fits the model's input.</summary>
public static class ImageEncoder
{
    /// <summary>Encodes an RGB image as baseline JPEG (SkiaSharp/libjpeg-turbo).</summary>
    public static byte[] EncodeJpeg(RgbImage img, int quality = 90)
    {
        ArgumentNullException.ThrowIfNull(img);
        var rgba = new byte[4L * img.Width * img.Height];
        var src = img.Pixels;
        for (int s = 0, d = 0; s < src.Length; s += 3, d += 4)
        {
            rgba[d] = src[s]; rgba[d + 1] = src[s + 1]; rgba[d + 2] = src[s + 2]; rgba[d + 3] = 255;
        }
        return EncodeJpegRgbx(rgba, img.Width, img.Height, quality);
    }

    /// <summary>Encodes opaque RGBx pixels (4 bytes a pixel, the fourth ignored) as baseline JPEG.</summary>
    public static byte[] EncodeJpegRgbx(ReadOnlySpan<byte> rgbx, int width, int height, int quality = 90)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        if (rgbx.Length < 4L * width * height) throw new ArgumentException("fewer pixels than width x height", nameof(rgbx));
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        unsafe
        {
            fixed (byte* p = rgbx)
            {
                using var pixmap = new SKPixmap(info, (IntPtr)p, info.RowBytes);
                using var encoded = pixmap.Encode(SKEncodedImageFormat.Jpeg, quality)
                    ?? throw new InvalidOperationException("SkiaSharp could not encode the JPEG");
                return encoded.ToArray();
            }
        }
    }

    /// <summary>
    /// Pack's re-encoding in one step from decoded pixels: shrunk so the short side is at most
    /// <paramref name="maxShortSide"/> and encoded as JPEG; the same bytes as <see cref="EncodeJpeg"/> of
    /// <see cref="ResizeShortSide(DecodedImage, int)"/>, without the RGB copies in between.
    /// </summary>
    public static byte[] EncodeJpegShortSide(DecodedImage img, int maxShortSide, int quality = 90)
    {
        ArgumentNullException.ThrowIfNull(img);
        var (w, h) = ShortSideFit(img.Width, img.Height, maxShortSide);
        if (w == img.Width && h == img.Height) return EncodeJpegRgbx(img.Rgbx, w, h, quality);
        int length = checked(4 * w * h);
        byte[] rgbx = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            BicubicResampler.Resize(img.Rgbx, img.Width, img.Height, 4, rgbx, w, h);
            return EncodeJpegRgbx(rgbx.AsSpan(0, length), w, h, quality);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rgbx);
        }
    }

    /// <summary>
    /// Shrinks <paramref name="img"/> so its short side is at most <paramref name="maxShortSide"/>, keeping the aspect
    /// ratio (PIL-compatible antialiased bicubic); returns the same instance when it already fits.
    /// </summary>
    public static RgbImage ResizeShortSide(RgbImage img, int maxShortSide)
    {
        ArgumentNullException.ThrowIfNull(img);
        var (w, h) = ShortSideFit(img.Width, img.Height, maxShortSide);
        return w == img.Width && h == img.Height ? img : BicubicResampler.Resize(img, w, h);
    }

    /// <summary><see cref="ResizeShortSide(RgbImage, int)"/> straight from decoded pixels: only the small result is a managed array.</summary>
    public static RgbImage ResizeShortSide(DecodedImage img, int maxShortSide)
    {
        ArgumentNullException.ThrowIfNull(img);
        var (w, h) = ShortSideFit(img.Width, img.Height, maxShortSide);
        return w == img.Width && h == img.Height ? img.ToRgb() : BicubicResampler.Resize(img, w, h);
    }

    /// <summary>The size with the short side at most <paramref name="maxShortSide"/> and the aspect ratio kept (unchanged when it fits).</summary>
    private static (int Width, int Height) ShortSideFit(int width, int height, int maxShortSide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShortSide);
        int shortSide = Math.Min(width, height);
        if (shortSide <= maxShortSide) return (width, height);
        double scale = (double)maxShortSide / shortSide;
        int w = width <= height ? maxShortSide : Math.Max(1, (int)Math.Round(width * scale));
        int h = height < width ? maxShortSide : Math.Max(1, (int)Math.Round(height * scale));
        return (w, h);
    }
}
