using SkiaSharp;
using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Tests.Images;

/// <summary>Native decoded pixels: the same pixels as the RGB decode, and the decode budget held exactly while they live.</summary>
public class DecodedImageTests
{
    /// <summary>A non-square RGBA PNG with every alpha value, so compositing over white is exercised.</summary>
    private static byte[] TranslucentPng(int w, int h)
    {
        var rgba = TestImages.ToRgba(TestImages.Pattern(w, h, seed: 5));
        for (int i = 3; i < rgba.Length; i += 4) rgba[i] = (byte)(i * 7);
        return TestImages.EncodeRgba(rgba, w, h, SKEncodedImageFormat.Png);
    }

    [Fact]
    public void HoldsItsShareOfTheBudgetUntilDisposed()
    {
        var limits = ImageLimits.Default with { DecodeBudget = new PixelBudget(1L << 30) };
        Assert.True(ImageDecoder.TryDecodeRgbx(TranslucentPng(70, 50), limits, out DecodedImage? image, out _));
        Assert.Equal(4L * 70 * 50, limits.DecodeBudget.InUseBytes);
        image.Dispose();
        Assert.Equal(0, limits.DecodeBudget.InUseBytes);
        Assert.Throws<ObjectDisposedException>(() => image.Rgbx.Length);
        image.Dispose();
        Assert.Equal(0, limits.DecodeBudget.InUseBytes);
    }

    [Fact]
    public void AFailedDecodeGivesTheBudgetBack()
    {
        var png = TranslucentPng(70, 50);
        var limits = ImageLimits.Default with { DecodeBudget = new PixelBudget(1L << 30) };
        Assert.False(ImageDecoder.TryDecodeRgbx(png[..(png.Length / 2)], limits, out DecodedImage? image, out var reason));
        Assert.Null(image);
        Assert.Equal(ImageSkipReasons.TruncatedImage, reason);
        Assert.Equal(0, limits.DecodeBudget.InUseBytes);
    }

    [Fact]
    public void ItsPixelsAreTheRgbDecodeWithAnOpaqueFourthByte()
    {
        var png = TranslucentPng(70, 50);
        Assert.True(ImageDecoder.TryDecode(png, ImageLimits.Default, out RgbImage? rgb, out _));
        Assert.True(ImageDecoder.TryDecodeRgbx(png, ImageLimits.Default, out DecodedImage? image, out _));
        using (image)
        {
            Assert.Equal(rgb!.Pixels, image.ToRgb().Pixels);
            var rgbx = image.Rgbx;
            for (int i = 3; i < rgbx.Length; i += 4) Assert.Equal(255, rgbx[i]);
        }
    }

    [Theory]
    [InlineData(70, 50)]
    [InlineData(50, 70)]
    public void ResizingItEqualsResizingTheRgbCopy(int w, int h)
    {
        var png = TranslucentPng(w, h);
        Assert.True(ImageDecoder.TryDecode(png, ImageLimits.Default, out RgbImage? rgb, out _));
        Assert.True(ImageDecoder.TryDecodeRgbx(png, ImageLimits.Default, out DecodedImage? image, out _));
        using (image)
        {
            Assert.Equal(BicubicResampler.Resize(rgb!, 23, 31).Pixels, BicubicResampler.Resize(image, 23, 31).Pixels);
            var expected = ImageEncoder.ResizeShortSide(rgb!, 20);
            var actual = ImageEncoder.ResizeShortSide(image, 20);
            Assert.Equal((expected.Width, expected.Height), (actual.Width, actual.Height));
            Assert.Equal(expected.Pixels, actual.Pixels);
            Assert.Equal(rgb!.Pixels, ImageEncoder.ResizeShortSide(image, 100).Pixels); // already fits: unchanged
        }
    }

    [Fact]
    public void DecodingALargeImageAllocatesNoManagedPixelBuffer()
    {
        var png = TestImages.LargeSolidPng(1500);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(ImageDecoder.TryDecodeRgbx(png, ImageLimits.Default, out DecodedImage? image, out _));
        image.Dispose();
        // 9 MB of pixels; only the codec's small managed wrappers may be allocated.
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 256 * 1024);
    }
}
