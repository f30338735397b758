using System.Buffers.Binary;
using SkiaSharp;
using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Tests.Images;

/// <summary>Generates encoded test images: SkiaSharp for JPEG/PNG/WebP, tiny hand-written writers for BMP and GIF (Skia cannot encode them).</summary>
public static class TestImages
{
    /// <summary>A smooth colourful RGB pattern with some detail, deterministic.</summary>
    public static RgbImage Pattern(int w, int h, int seed = 0)
    {
        var px = new byte[3 * w * h];
        var rng = new Random(seed);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = 3 * (y * w + x);
                px[i] = (byte)(255 * x / Math.Max(1, w - 1));
                px[i + 1] = (byte)(255 * y / Math.Max(1, h - 1));
                px[i + 2] = (byte)((((x / 8) + (y / 8)) % 2 == 0 ? 200 : 40) + rng.Next(0, 16));
            }
        return new RgbImage(w, h, px);
    }

    public static byte[] Encode(RgbImage img, SKEncodedImageFormat format, int quality = 95) =>
        EncodeRgba(ToRgba(img), img.Width, img.Height, format, quality, SKAlphaType.Opaque);

    public static byte[] EncodeRgba(byte[] rgba, int w, int h, SKEncodedImageFormat format, int quality = 95, SKAlphaType alpha = SKAlphaType.Unpremul)
    {
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, alpha);
        using var image = SKImage.FromPixelCopy(info, rgba);
        using var pixmap = image.PeekPixels();
        using var data = format == SKEncodedImageFormat.Webp
            ? pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100))
            : pixmap.Encode(format, quality);
        return data!.ToArray();
    }

    /// <summary>A solid-colour PNG: millions of pixels in a few KB, like the hostile tar of 9400x9400 PNGs.</summary>
    public static byte[] LargeSolidPng(int side)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Opaque));
        bitmap.Erase(new SKColor(30, 120, 200));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public static byte[] EncodeGrayPng(byte[] gray, int w, int h)
    {
        var info = new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque);
        using var image = SKImage.FromPixelCopy(info, gray);
        using var pixmap = image.PeekPixels();
        using var data = pixmap.Encode(SKEncodedImageFormat.Png, 100);
        return data!.ToArray();
    }

    public static byte[] ToRgba(RgbImage img)
    {
        var rgba = new byte[4 * img.Width * img.Height];
        for (int s = 0, d = 0; s < img.Pixels.Length; s += 3, d += 4)
        {
            rgba[d] = img.Pixels[s]; rgba[d + 1] = img.Pixels[s + 1]; rgba[d + 2] = img.Pixels[s + 2]; rgba[d + 3] = 255;
        }
        return rgba;
    }

    /// <summary>Uncompressed 24-bit BMP (bottom-up rows, BGR, rows padded to 4 bytes).</summary>
    public static byte[] EncodeBmp(RgbImage img)
    {
        int rowBytes = (3 * img.Width + 3) & ~3;
        int dataSize = rowBytes * img.Height;
        var b = new byte[54 + dataSize];
        b[0] = (byte)'B'; b[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), img.Width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), img.Height);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(34), dataSize);
        for (int y = 0; y < img.Height; y++)
        {
            int dst = 54 + (img.Height - 1 - y) * rowBytes;
            for (int x = 0; x < img.Width; x++)
            {
                int s = 3 * (y * img.Width + x);
                b[dst + 3 * x] = img.Pixels[s + 2];
                b[dst + 3 * x + 1] = img.Pixels[s + 1];
                b[dst + 3 * x + 2] = img.Pixels[s];
            }
        }
        return b;
    }

    /// <summary>
    /// A GIF with one frame per solid colour (global palette = the colours). The LZW stream uses 9-bit codes with a
    /// clear code every 250 literals, so the decoder's table never grows past 9 bits (valid, just uncompressed).
    /// </summary>
    public static byte[] EncodeSolidGif(int w, int h, params (byte R, byte G, byte B)[] frames)
    {
        var o = new List<byte>();
        o.AddRange("GIF89a"u8.ToArray());
        o.Add((byte)w); o.Add((byte)(w >> 8)); o.Add((byte)h); o.Add((byte)(h >> 8));
        o.Add(0xF7); o.Add(0); o.Add(0);                     // global table of 256 entries
        for (int i = 0; i < 256; i++)
        {
            var c = i < frames.Length ? frames[i] : ((byte)0, (byte)0, (byte)0);
            o.Add(c.Item1); o.Add(c.Item2); o.Add(c.Item3);
        }
        for (int f = 0; f < frames.Length; f++)
        {
            o.AddRange(new byte[] { 0x21, 0xF9, 4, 0, 10, 0, 0, 0 });   // graphic control: delay 10, no transparency
            o.Add(0x2C); o.AddRange(new byte[] { 0, 0, 0, 0 });
            o.Add((byte)w); o.Add((byte)(w >> 8)); o.Add((byte)h); o.Add((byte)(h >> 8)); o.Add(0);
            o.Add(8);                                                  // LZW minimum code size
            var codes = new List<int> { 256 };
            for (int i = 0; i < w * h; i++)
            {
                if (i > 0 && i % 250 == 0) codes.Add(256);
                codes.Add(f);
            }
            codes.Add(257);
            var bytes = new List<byte>();
            int acc = 0, nbits = 0;
            foreach (int c in codes)
            {
                acc |= c << nbits; nbits += 9;
                while (nbits >= 8) { bytes.Add((byte)acc); acc >>= 8; nbits -= 8; }
            }
            if (nbits > 0) bytes.Add((byte)acc);
            for (int i = 0; i < bytes.Count; i += 255)
            {
                int n = Math.Min(255, bytes.Count - i);
                o.Add((byte)n);
                o.AddRange(bytes.GetRange(i, n));
            }
            o.Add(0);
        }
        o.Add(0x3B);
        return o.ToArray();
    }

    /// <summary>Rewrites a PNG's IHDR width and height (and its CRC): a header that promises a huge image.</summary>
    public static byte[] PatchPngSize(byte[] png, int w, int h)
    {
        var b = (byte[])png.Clone();
        // signature (8) + length (4) + "IHDR" (4) → width at 16, height at 20, CRC after 13 data bytes at 29.
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(16), w);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(20), h);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(29), Crc32(b.AsSpan(12, 17)));
        return b;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte x in data)
        {
            crc ^= x;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
