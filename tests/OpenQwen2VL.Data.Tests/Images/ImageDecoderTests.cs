using SkiaSharp;
using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Tests.Images;

public class ImageDecoderTests
{
    private static RgbImage Decode(byte[] data, ImageLimits? limits = null)
    {
        Assert.True(ImageDecoder.TryDecode(data, limits ?? ImageLimits.Default, out var img, out var reason), $"skipped: {reason}");
        Assert.Null(reason);
        return img!;
    }

    private static string Skip(byte[] data, ImageLimits? limits = null)
    {
        Assert.False(ImageDecoder.TryDecode(data, limits ?? ImageLimits.Default, out var img, out var reason));
        Assert.Null(img);
        Assert.Contains(reason!, ImageSkipReasons.All);
        return reason!;
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "png")]
    [InlineData(SKEncodedImageFormat.Webp, "webp")]
    public void LosslessFormatsRoundTripExactly(SKEncodedImageFormat format, string name)
    {
        var src = TestImages.Pattern(37, 21);
        var bytes = TestImages.Encode(src, format);
        Assert.True(ImageDecoder.TryReadSize(bytes, out int w, out int h, out var fmt));
        Assert.Equal((37, 21, name), (w, h, fmt));
        Assert.Equal(src.Pixels, Decode(bytes).Pixels);
    }

    [Fact]
    public void BmpRoundTripsExactly()
    {
        var src = TestImages.Pattern(13, 7);
        var bytes = TestImages.EncodeBmp(src);
        Assert.True(ImageDecoder.TryReadSize(bytes, out _, out _, out var fmt));
        Assert.Equal("bmp", fmt);
        Assert.Equal(src.Pixels, Decode(bytes).Pixels);
    }

    [Fact]
    public void JpegDecodesCloseToTheSource()
    {
        var src = TestImages.Pattern(64, 48);
        var img = Decode(TestImages.Encode(src, SKEncodedImageFormat.Jpeg, 95));
        Assert.Equal((64, 48), (img.Width, img.Height));
        double mae = src.Pixels.Zip(img.Pixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.InRange(mae, 0, 12);   // lossy (4:2:0 chroma) but nothing like a wrong decode (~80)
    }

    [Fact]
    public void GifGivesTheFirstFrame()
    {
        var bytes = TestImages.EncodeSolidGif(5, 4, (200, 10, 30), (0, 0, 255));
        Assert.True(ImageDecoder.TryReadSize(bytes, out int w, out int h, out var fmt));
        Assert.Equal((5, 4, "gif"), (w, h, fmt));
        var img = Decode(bytes);
        for (int i = 0; i < img.Pixels.Length; i += 3)
            Assert.Equal((200, 10, 30), (img.Pixels[i], img.Pixels[i + 1], img.Pixels[i + 2]));
    }

    [Fact]
    public void AlphaIsCompositedOverWhite()
    {
        // Row of 4 red pixels with alpha 255, 128, 0, and a blue one at alpha 64.
        byte[] rgba = [255, 0, 0, 255, 255, 0, 0, 128, 255, 0, 0, 0, 0, 0, 255, 64];
        byte[] twoRows = [.. rgba, .. rgba];
        var img = Decode(TestImages.EncodeRgba(twoRows, 4, 2, SKEncodedImageFormat.Png));
        byte[] expected = [255, 0, 0, 255, 127, 127, 255, 255, 255, 191, 191, 255];
        Assert.Equal(expected, img.Pixels[..12]);
    }

    [Fact]
    public void GrayscaleBecomesThreeEqualChannels()
    {
        var gray = Enumerable.Range(0, 6 * 3).Select(i => (byte)(i * 14)).ToArray();
        var img = Decode(TestImages.EncodeGrayPng(gray, 6, 3));
        for (int i = 0; i < gray.Length; i++)
            Assert.Equal((gray[i], gray[i], gray[i]), (img.Pixels[3 * i], img.Pixels[3 * i + 1], img.Pixels[3 * i + 2]));
    }

    [Fact]
    public void EmptyBytesAreSkipped() => Assert.Equal(ImageSkipReasons.Empty, Skip([]));

    [Fact]
    public void NonImageBytesAreUnsupported() =>
        Assert.Equal(ImageSkipReasons.UnsupportedFormat, Skip("this is a caption, not an image"u8.ToArray()));

    [Theory]
    [InlineData("png-idat")]
    [InlineData("jpeg-header")]
    [InlineData("jpeg-scan")]
    public void CorruptBytesAreSkippedAsCorrupt(string where)
    {
        var png = TestImages.Encode(TestImages.Pattern(32, 32), SKEncodedImageFormat.Png);
        var jpg = TestImages.Encode(TestImages.Pattern(32, 32), SKEncodedImageFormat.Jpeg);
        byte[] bad = where switch
        {
            "png-idat" => png.Select((x, i) => i >= 60 && i < png.Length - 20 ? (byte)(x ^ 0x5A) : x).ToArray(),
            "jpeg-header" => jpg.Select((x, i) => i >= 2 && i < 40 ? (byte)0x33 : x).ToArray(),
            _ => jpg.Select((x, i) => i >= jpg.Length / 2 && i < jpg.Length - 2 ? (byte)0xFF : x).ToArray(),
        };
        Assert.Equal(ImageSkipReasons.CorruptImage, Skip(bad));
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    [InlineData(SKEncodedImageFormat.Png)]
    public void TruncatedImagesAreSkipped(SKEncodedImageFormat format)
    {
        var full = TestImages.Encode(TestImages.Pattern(96, 64), format, 90);
        Assert.Equal(ImageSkipReasons.TruncatedImage, Skip(full[..(full.Length / 2)]));
    }

    [Fact]
    public void OnePixelImageIsTooSmall()
    {
        var png = TestImages.Encode(TestImages.Pattern(1, 1), SKEncodedImageFormat.Png);
        Assert.Equal(ImageSkipReasons.TooSmall, Skip(png));
        Assert.Equal(1, Decode(png, new ImageLimits(MinSide: 1)).Width);
    }

    [Fact]
    public void DecompressionBombIsRejectedFromTheHeader()
    {
        var png = TestImages.Encode(TestImages.Pattern(4, 4), SKEncodedImageFormat.Png);
        var bomb = TestImages.PatchPngSize(png, 50_000, 40_000);   // 2e9 pixels promised by a ~100-byte file
        Assert.True(ImageDecoder.TryReadSize(bomb, out int w, out int h, out _));
        Assert.Equal((50_000, 40_000), (w, h));
        Assert.Equal(ImageSkipReasons.TooManyPixels, Skip(bomb));
        Assert.Equal(ImageSkipReasons.TooManyPixels, Skip(png, new ImageLimits(MaxPixels: 15)));
        // Even with the cap lifted, a bomb that no buffer could hold is a counted skip, not an exception.
        Assert.Equal(ImageSkipReasons.TooManyPixels, Skip(bomb, new ImageLimits(MaxPixels: long.MaxValue)));
    }

    [Fact]
    public void OversizedInputIsSkippedByByteCount()
    {
        var png = TestImages.Encode(TestImages.Pattern(4, 4), SKEncodedImageFormat.Png);
        Assert.Equal(ImageSkipReasons.TooManyBytes, Skip(png, new ImageLimits(MaxBytes: png.Length - 1)));
    }

    [Fact]
    public void EncodedJpegDecodesBackCloseToTheSource()
    {
        var src = TestImages.Pattern(40, 30);
        var img = Decode(ImageEncoder.EncodeJpeg(src, 95));
        Assert.Equal((40, 30), (img.Width, img.Height));
        Assert.InRange(src.Pixels.Zip(img.Pixels, (a, b) => Math.Abs(a - b)).Average(), 0, 12);
    }

    [Fact]
    public void ResizeShortSideKeepsAspectAndSkipsSmallImages()
    {
        var src = TestImages.Pattern(64, 48);
        var small = ImageEncoder.ResizeShortSide(src, 24);
        Assert.Equal((32, 24), (small.Width, small.Height));
        var tall = ImageEncoder.ResizeShortSide(TestImages.Pattern(30, 90), 10);
        Assert.Equal((10, 30), (tall.Width, tall.Height));
        Assert.Same(src, ImageEncoder.ResizeShortSide(src, 48));
    }
}
