using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace OpenQwen2VL.Data.Images;

/// <summary>
/// Decodes JPEG, PNG, WebP, BMP and GIF (first frame) with SkiaSharp's SKCodec into 8-bit RGB, alpha
/// composited over white. Bad input never throws: it returns false with one of <see cref="ImageSkipReasons"/>.
/// Like PIL (the reference), no ICC colour conversion and no EXIF rotation are applied.
/// </summary>
public static class ImageDecoder
{
    /// <summary>
    /// Decodes <paramref name="data"/> into a caller-owned RGB array; on failure <paramref name="skipReason"/> says why.
    /// The decode budget covers the decode (4 + 3 bytes a pixel) but not the returned array, which the caller owns: for
    /// large or many images prefer <see cref="TryDecodeRgbx(ReadOnlySpan{byte}, ImageLimits, out DecodedImage?, out string?)"/>.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, ImageLimits limits, out RgbImage? image, out string? skipReason)
    {
        image = null;
        // The RGB copy is made while the RGBx pixels live: the lease covers both until the native pixels are freed.
        if (!TryDecodeNative(data, limits, leasedBytesPerPixel: 7, out var decoded, out skipReason)) return false;
        using (decoded) image = decoded!.ToRgb();
        return true;
    }

    /// <summary>
    /// Decodes into native RGBx pixels that hold their share of <see cref="ImageLimits.DecodeBudget"/> until disposed:
    /// what pack, curate and the loaders use, so memory stays bounded by the budget whatever the images.
    /// </summary>
    public static bool TryDecodeRgbx(ReadOnlySpan<byte> data, ImageLimits limits, [NotNullWhen(true)] out DecodedImage? image, out string? skipReason) =>
        TryDecodeNative(data, limits, leasedBytesPerPixel: 4, out image, out skipReason);

    /// <summary>
    /// Decodes into 4-byte RGBx pixels (alpha already composited over white, fourth byte 255) in a caller-owned
    /// buffer that is grown when too small, for a caller that reuses one buffer per thread. The lease is given back
    /// when this returns (a reused buffer stays with its thread, bounded by the thread count times MaxPixels).
    /// </summary>
    public static bool TryDecodeRgbx(ReadOnlySpan<byte> data, ImageLimits limits, ref byte[]? buffer, out int width, out int height, out string? skipReason)
    {
        ArgumentNullException.ThrowIfNull(limits);
        width = height = 0;
        if (!CheckEncodedSize(data, limits, out skipReason)) return false;
        unsafe
        {
            fixed (byte* p = data)
            {
                // SKData over the caller's bytes without a copy; it only lives inside this fixed block.
                using var skData = SKData.Create((IntPtr)p, data.Length);
                using var codec = TryOpen(skData, data, limits, out var info, out skipReason);
                if (codec is null) return false;
                using var lease = limits.DecodeBudget.Acquire(4L * info.Width * info.Height);
                int length = 4 * info.Width * info.Height;
                if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<byte>(length);
                fixed (byte* dst = buffer)
                    if (!TryGetPixels(codec, info, dst, out skipReason)) return false;
                width = info.Width;
                height = info.Height;
                return true;
            }
        }
    }

    /// <param name="leasedBytesPerPixel">How much of <see cref="ImageLimits.DecodeBudget"/> the result holds per pixel.</param>
    private static bool TryDecodeNative(ReadOnlySpan<byte> data, ImageLimits limits, int leasedBytesPerPixel,
        out DecodedImage? image, out string? skipReason)
    {
        ArgumentNullException.ThrowIfNull(limits);
        image = null;
        if (!CheckEncodedSize(data, limits, out skipReason)) return false;
        unsafe
        {
            fixed (byte* p = data)
            {
                using var skData = SKData.Create((IntPtr)p, data.Length);
                using var codec = TryOpen(skData, data, limits, out var info, out skipReason);
                if (codec is null) return false;
                // Leased after the header checks and before the pixels are allocated; the image owns it from here on.
                var lease = limits.DecodeBudget.Acquire((long)leasedBytesPerPixel * info.Width * info.Height);
                byte* pixels = null;
                try
                {
                    pixels = (byte*)NativeMemory.Alloc((nuint)(4L * info.Width * info.Height));
                    if (!TryGetPixels(codec, info, pixels, out skipReason))
                    {
                        NativeMemory.Free(pixels);
                        lease.Dispose();
                        return false;
                    }
                }
                catch
                {
                    NativeMemory.Free(pixels);
                    lease.Dispose();
                    throw;
                }
                image = new DecodedImage(pixels, info.Width, info.Height, lease);
                return true;
            }
        }
    }

    /// <summary>The checks on the encoded bytes, made before Skia sees them.</summary>
    private static bool CheckEncodedSize(ReadOnlySpan<byte> data, ImageLimits limits, out string? skipReason)
    {
        skipReason = data.IsEmpty ? ImageSkipReasons.Empty : data.Length > limits.MaxBytes ? ImageSkipReasons.TooManyBytes : null;
        return skipReason is null;
    }

    /// <summary>Opens a codec and checks the header against <paramref name="limits"/>, or returns null with a skip reason.</summary>
    private static SKCodec? TryOpen(SKData skData, ReadOnlySpan<byte> data, ImageLimits limits, out SKImageInfo info, out string? skipReason)
    {
        info = default;
        var codec = OpenCodec(skData, data, out skipReason);
        if (codec is null) return null;
        info = codec.Info;
        if (Math.Min(info.Width, info.Height) < limits.MinSide) skipReason = ImageSkipReasons.TooSmall;
        else if ((long)info.Width * info.Height > limits.MaxPixels || 4L * info.Width * info.Height > Array.MaxLength)
            skipReason = ImageSkipReasons.TooManyPixels;
        else return codec;
        codec.Dispose();
        return null;
    }

    /// <summary>Decodes all pixels into <paramref name="dst"/> (4 * width * height bytes) as RGBx, alpha over white.</summary>
    private static unsafe bool TryGetPixels(SKCodec codec, SKImageInfo info, byte* dst, out string? skipReason)
    {
        // Skia has no packed 3-byte RGB target: decode to unpremultiplied RGBA, then composite alpha over white.
        // ColorSpace null = no colour-space conversion (PIL ignores ICC profiles too).
        bool opaque = info.AlphaType == SKAlphaType.Opaque;
        var rgbaInfo = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888,
            opaque ? SKAlphaType.Opaque : SKAlphaType.Unpremul, null);
        var result = codec.GetPixels(rgbaInfo, (IntPtr)dst, rgbaInfo.RowBytes, new SKCodecOptions(0));
        switch (result)
        {
            case SKCodecResult.Success: break;
            case SKCodecResult.IncompleteInput: skipReason = ImageSkipReasons.TruncatedImage; return false;
            default: skipReason = ImageSkipReasons.CorruptImage; return false;
        }
        if (!opaque) CompositeOverWhite(new Span<byte>(dst, 4 * info.Width * info.Height));
        skipReason = null;
        return true;
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
