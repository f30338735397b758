using SkiaSharp;

namespace OpenQwen2VL.Data.Images;

/// <summary>Re-encoding for packed shards: JPEG via SkiaSharp, and shrinking so the short side fits the model's input.</summary>
public static class ImageEncoder
{
    /// <summary>Encodes an RGB image as baseline JPEG (SkiaSharp/libjpeg-turbo).</summary>
    public static byte[] EncodeJpeg(RgbImage img, int quality = 90)
    {
        ArgumentNullException.ThrowIfNull(img);
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        var rgba = new byte[4L * img.Width * img.Height];
        var src = img.Pixels;
        for (int s = 0, d = 0; s < src.Length; s += 3, d += 4)
        {
            rgba[d] = src[s]; rgba[d + 1] = src[s + 1]; rgba[d + 2] = src[s + 2]; rgba[d + 3] = 255;
        }
        var info = new SKImageInfo(img.Width, img.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        unsafe
        {
            fixed (byte* p = rgba)
            {
                using var pixmap = new SKPixmap(info, (IntPtr)p, info.RowBytes);
                using var encoded = pixmap.Encode(SKEncodedImageFormat.Jpeg, quality)
                    ?? throw new InvalidOperationException("SkiaSharp could not encode the JPEG");
                return encoded.ToArray();
            }
        }
    }

    /// <summary>
    /// Shrinks <paramref name="img"/> so its short side is at most <paramref name="maxShortSide"/>, keeping the aspect
    /// ratio (PIL-compatible antialiased bicubic); returns the same instance when it already fits.
    /// </summary>
    public static RgbImage ResizeShortSide(RgbImage img, int maxShortSide)
    {
        ArgumentNullException.ThrowIfNull(img);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShortSide);
        int shortSide = Math.Min(img.Width, img.Height);
        if (shortSide <= maxShortSide) return img;
        double scale = (double)maxShortSide / shortSide;
        int w = img.Width <= img.Height ? maxShortSide : Math.Max(1, (int)Math.Round(img.Width * scale));
        int h = img.Height < img.Width ? maxShortSide : Math.Max(1, (int)Math.Round(img.Height * scale));
        return BicubicResampler.Resize(img, w, h);
    }
}
