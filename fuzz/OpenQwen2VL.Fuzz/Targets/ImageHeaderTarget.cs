using OpenQwen2VL.Data.Images;
using SkiaSharp;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>
/// Image bytes from a shard: the header check (format, declared size) and the bounded decode. Both must answer with a
/// skip reason, never an exception, and a decoded image must have the size it claims, within the limits.
/// </summary>
public sealed class ImageHeaderTarget : IFuzzTarget
{
    static readonly ImageLimits Limits = new(MaxPixels: 1 << 20, MinSide: 2, MaxBytes: 1 << 20);

    public string Name => "image";
    public string Description => "image bytes (JPEG/PNG/WebP/GIF/BMP): header size check, then the bounded decode";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        ImageDecoder.TryReadSize(input, out int w, out int h, out _);
        if (w < 0 || h < 0) throw new InvariantBrokenException($"a negative size {w}x{h}");
        if (ImageDecoder.TryDecode(input, Limits, out var image, out string? reason))
        {
            if (image is null) throw new InvariantBrokenException("decoded without an image");
            if ((long)image.Width * image.Height > Limits.MaxPixels || image.Pixels.Length != 3L * image.Width * image.Height)
                throw new InvariantBrokenException($"a decoded {image.Width}x{image.Height} image of {image.Pixels.Length} bytes");
        }
        else if (string.IsNullOrEmpty(reason)) throw new InvariantBrokenException("refused without a reason");
    }

    internal static string SmallJpegPath(FuzzEnvironment env) => env.Reference(Path.Combine("images", "img2.jpg"));

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        var pixels = new byte[8 * 6 * 3];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 37);
        var rgb = new RgbImage(8, 6, pixels);
        yield return ("small.jpg", ImageEncoder.EncodeJpeg(rgb));
        foreach (var (format, name) in new[] { (SKEncodedImageFormat.Png, "small.png"), (SKEncodedImageFormat.Webp, "small.webp") })
        {
            using var bitmap = new SKBitmap(new SKImageInfo(8, 6, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            for (int y = 0; y < 6; y++)
                for (int x = 0; x < 8; x++)
                    bitmap.SetPixel(x, y, new SKColor((byte)(x * 30), (byte)(y * 40), 128, (byte)(200 + x)));
            using var data = bitmap.Encode(format, 90);
            if (data is not null) yield return (name, data.ToArray());
        }
        yield return ("reference.jpg", File.ReadAllBytes(SmallJpegPath(env)));
    }
}
