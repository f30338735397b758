using SkiaSharp;

namespace OpenQwen2VL.Data.Images;

/// <summary>
/// Decodes JPEG, PNG, WebP, BMP and GIF (first frame) with SkiaSharp's SKCodec into 8-bit RGB, alpha
/// composited over white. Bad input never throws: it returns false with one of <see cref="ImageSkipReasons"/>.
/// Like PIL (the reference), no ICC colour conversion and no EXIF rotation are applied.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Decodes <paramref name="data"/>; on failure <paramref name="skipReason"/> says why.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, ImageLimits limits, out RgbImage? image, out string? skipReason)
    {
        ArgumentNullException.ThrowIfNull(limits);
        byte[]? rgbx = null;
        image = null;
        // The RGBx buffer lives until the RGB copy is made: the lease covers both (4 + 3 bytes a pixel) until then.
        if (!TryDecodeRgbx(data, limits, ref rgbx, out int w, out int h, out skipReason, leasedBytesPerPixel: 7, out var lease)) return false;
        using var _ = lease;
        var rgb = new byte[3 * w * h];
        for (int s = 0, d = 0; d < rgb.Length; s += 4, d += 3)
        {
            rgb[d] = rgbx![s]; rgb[d + 1] = rgbx[s + 1]; rgb[d + 2] = rgbx[s + 2];
        }
        image = new RgbImage(w, h, rgb);
        return true;
    }

    /// <summary>
    /// Decodes into 4-byte RGBx pixels (alpha already composited over white, fourth byte 255) in a caller-owned
    /// buffer that is grown when too small: the preprocessing hot path reuses one buffer per thread and works on
    /// 4-byte pixels (one SIMD lane group per pixel), so it skips the RGB copy and a large allocation per image.
    /// </summary>
    public static bool TryDecodeRgbx(ReadOnlySpan<byte> data, ImageLimits limits, ref byte[]? buffer, out int width, out int height, out string? skipReason)
    {
        bool ok = TryDecodeRgbx(data, limits, ref buffer, out width, out height, out skipReason, leasedBytesPerPixel: 4, out var lease);
        lease?.Dispose();
        return ok;
    }

    /// <param name="leasedBytesPerPixel">How much of <see cref="ImageLimits.DecodeBudget"/> to lease per pixel.</param>
    /// <param name="lease">On success, the lease the caller releases once its buffers are done; on failure, already released.</param>
    private static bool TryDecodeRgbx(ReadOnlySpan<byte> data, ImageLimits limits, ref byte[]? buffer, out int width, out int height,
        out string? skipReason, int leasedBytesPerPixel, out PixelBudget.Lease? lease)
    {
        lease = null;
        ArgumentNullException.ThrowIfNull(limits);
        width = height = 0;
        if (data.IsEmpty) { skipReason = ImageSkipReasons.Empty; return false; }
        if (data.Length > limits.MaxBytes) { skipReason = ImageSkipReasons.TooManyBytes; return false; }
        unsafe
        {
            fixed (byte* p = data)
            {
                // SKData over the caller's bytes without a copy; it only lives inside this fixed block.
                using var skData = SKData.Create((IntPtr)p, data.Length);
                using var codec = OpenCodec(skData, data, out skipReason);
                if (codec is null) return false;

                var info = codec.Info;
                if (Math.Min(info.Width, info.Height) < limits.MinSide) { skipReason = ImageSkipReasons.TooSmall; return false; }
                if ((long)info.Width * info.Height > limits.MaxPixels || 4L * info.Width * info.Height > Array.MaxLength)
                { skipReason = ImageSkipReasons.TooManyPixels; return false; }

                // Skia has no packed 3-byte RGB target: decode to unpremultiplied RGBA, then composite alpha over white.
                // ColorSpace null = no colour-space conversion (PIL ignores ICC profiles too).
                bool opaque = info.AlphaType == SKAlphaType.Opaque;
                var rgbaInfo = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888,
                    opaque ? SKAlphaType.Opaque : SKAlphaType.Unpremul, null);
                int length = 4 * info.Width * info.Height;
                // Leased after the header checks and before the buffer is allocated; released once the caller is done with
                // the pixels (a reused buffer stays with its thread, bounded by the thread count times MaxPixels).
                lease = limits.DecodeBudget.Acquire((long)leasedBytesPerPixel * info.Width * info.Height);
                SKCodecResult result;
                try
                {
                    if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<byte>(length);
                    fixed (byte* dst = buffer)
                        result = codec.GetPixels(rgbaInfo, (IntPtr)dst, rgbaInfo.RowBytes, new SKCodecOptions(0));
                }
                catch { lease.Dispose(); lease = null; throw; }
                switch (result)
                {
                    case SKCodecResult.Success: break;
                    case SKCodecResult.IncompleteInput: skipReason = ImageSkipReasons.TruncatedImage; break;
                    default: skipReason = ImageSkipReasons.CorruptImage; break;
                }
                if (result != SKCodecResult.Success) { lease.Dispose(); lease = null; return false; }
                if (!opaque) CompositeOverWhite(buffer.AsSpan(0, length));
                width = info.Width;
                height = info.Height;
                skipReason = null;
                return true;
            }
        }
    }

    /// <summary>
    /// Reads width, height and format ("jpeg", "png", "webp", "bmp", "gif") from the header only, without decoding pixels.
    /// </summary>
    public static bool TryReadSize(ReadOnlySpan<byte> data, out int width, out int height, out string? format)
    {
        width = height = 0;
        format = null;
        if (data.IsEmpty) return false;
        unsafe
        {
            fixed (byte* p = data)
            {
                using var skData = SKData.Create((IntPtr)p, data.Length);
                using var codec = OpenCodec(skData, data, out _);
                if (codec is null) return false;
                width = codec.Info.Width;
                height = codec.Info.Height;
                format = FormatName(codec.EncodedFormat);
                return true;
            }
        }
    }

    /// <summary>Opens a codec for a supported format, or returns null with a skip reason.</summary>
    private static SKCodec? OpenCodec(SKData skData, ReadOnlySpan<byte> data, out string? skipReason)
    {
        // The stream overload reports why opening failed (e.g. IncompleteInput); the codec takes ownership of it.
        var codec = SKCodec.Create(new SKMemoryStream(skData), out var result);
        if (codec is null)
        {
            skipReason = result == SKCodecResult.IncompleteInput ? ImageSkipReasons.TruncatedImage
                : LooksLikeSupportedImage(data) ? ImageSkipReasons.CorruptImage
                : ImageSkipReasons.UnsupportedFormat;
            return null;
        }
        if (FormatName(codec.EncodedFormat) is null)
        {
            codec.Dispose();
            skipReason = ImageSkipReasons.UnsupportedFormat;
            return null;
        }
        skipReason = null;
        return codec;
    }

    private static string? FormatName(SKEncodedImageFormat f) => f switch
    {
        SKEncodedImageFormat.Jpeg => "jpeg",
        SKEncodedImageFormat.Png => "png",
        SKEncodedImageFormat.Webp => "webp",
        SKEncodedImageFormat.Bmp => "bmp",
        SKEncodedImageFormat.Gif => "gif",
        _ => null,
    };

    /// <summary>Magic numbers of the supported formats: tells a damaged image from something that is not one.</summary>
    private static bool LooksLikeSupportedImage(ReadOnlySpan<byte> d) =>
        d.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8])
        || d.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G'])
        || d.StartsWith("GIF8"u8)
        || d.StartsWith("BM"u8)
        || (d.Length >= 12 && d.StartsWith("RIFF"u8) && d.Slice(8, 4).SequenceEqual("WEBP"u8));

    /// <summary>In place, per RGBA pixel: c = c * a/255 + 255 * (1 - a/255), rounded, then a = 255; opaque pixels keep their colour.</summary>
    private static void CompositeOverWhite(Span<byte> rgba)
    {
        for (int s = 0; s < rgba.Length; s += 4)
        {
            int a = rgba[s + 3];
            if (a == 255) continue;
            int white = 255 * (255 - a);
            rgba[s] = (byte)((rgba[s] * a + white + 127) / 255);
            rgba[s + 1] = (byte)((rgba[s + 1] * a + white + 127) / 255);
            rgba[s + 2] = (byte)((rgba[s + 2] * a + white + 127) / 255);
            rgba[s + 3] = 255;
        }
    }
}
