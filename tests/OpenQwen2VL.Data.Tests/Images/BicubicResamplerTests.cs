using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Tests.Images;

/// <summary>The table-driven SIMD resampler against a direct, loop-by-loop transcription of PIL's algorithm.</summary>
public class BicubicResamplerTests
{
    /// <summary>PIL's ImagingResample for one axis, weights computed inline per output pixel, one channel at a time.</summary>
    private static byte[] NaivePass(byte[] src, int width, int height, int outSize, bool horizontal, int rowFirst, int rows)
    {
        int inSize = horizontal ? width : height;
        double scale = (double)inSize / outSize, fs = Math.Max(1.0, scale), support = 2.0 * fs;
        int outW = horizontal ? outSize : width, outH = horizontal ? rows : outSize;
        var dst = new byte[3 * outW * outH];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            int lo = Math.Max(0, (int)(center - support + 0.5));
            int hi = Math.Min(inSize, (int)(center + support + 0.5));
            var w = new double[hi - lo];
            for (int t = lo; t < hi; t++) w[t - lo] = ResampleCoefficients.Bicubic((t - center + 0.5) * (1.0 / fs));
            double sum = w.Sum();
            var kw = w.Select(v => { double s = v / sum * (1 << 22); return (int)(s < 0 ? s - 0.5 : s + 0.5); }).ToArray();
            int lines = horizontal ? rows : width;
            for (int line = 0; line < lines; line++)
                for (int c = 0; c < 3; c++)
                {
                    int acc = 1 << 21;
                    for (int t = lo; t < hi; t++)
                    {
                        int idx = horizontal ? 3 * ((line + rowFirst) * width + t) + c : 3 * ((t - rowFirst) * width + line) + c;
                        acc += src[idx] * kw[t - lo];
                    }
                    int v = acc >> 22;
                    int di = horizontal ? 3 * (line * outW + o) + c : 3 * (o * outW + line) + c;
                    dst[di] = (byte)Math.Clamp(v, 0, 255);
                }
        }
        return dst;
    }

    private static byte[] NaiveResize(RgbImage img, int w, int h)
    {
        if (w == img.Width && h == img.Height) return (byte[])img.Pixels.Clone();
        if (w == img.Width) return NaivePass(img.Pixels, img.Width, img.Height, h, false, 0, 0);
        if (h == img.Height) return NaivePass(img.Pixels, img.Width, img.Height, w, true, 0, img.Height);
        var v = ResampleCoefficients.Get(img.Height, h);
        int first = v.Start[0], last = v.Start[h - 1] + v.Count[h - 1];
        var temp = NaivePass(img.Pixels, img.Width, img.Height, w, true, first, last - first);
        return NaivePass(temp, w, last - first, h, false, first, 0);
    }

    [Theory]
    [InlineData(64, 48, 24, 24)]      // shrink both axes
    [InlineData(50, 30, 77, 45)]      // enlarge both
    [InlineData(41, 60, 96, 17)]      // enlarge x, shrink y (rows not a multiple of the SIMD width)
    [InlineData(300, 7, 13, 7)]       // horizontal only
    [InlineData(9, 200, 9, 37)]       // vertical only
    [InlineData(3, 3, 100, 2)]
    public void MatchesANaiveTranscriptionOfPil(int sw, int sh, int w, int h)
    {
        var img = TestImages.Pattern(sw, sh, seed: sw * 31 + sh);
        var expected = NaiveResize(img, w, h);
        Assert.Equal(expected, BicubicResampler.Resize(img, w, h).Pixels);

        // The 4-byte-pixel path (SIMD horizontal pass) must give the same RGB.
        var rgbx = TestImages.ToRgba(img);
        var outRgbx = new byte[4 * w * h];
        BicubicResampler.Resize(rgbx, sw, sh, 4, outRgbx, w, h);
        var rgb = new byte[3 * w * h];
        for (int p = 0; p < w * h; p++)
            for (int c = 0; c < 3; c++) rgb[3 * p + c] = outRgbx[4 * p + c];
        Assert.Equal(expected, rgb);
    }

    [Fact]
    public void ShrinkingAveragesInsteadOfSampling()
    {
        // A 1-pixel checkerboard shrunk 4x: antialiasing gives mid-grey; point sampling would keep 0/255 extremes.
        int n = 64;
        var px = new byte[3 * n * n];
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                px.AsSpan(3 * (y * n + x), 3).Fill((byte)(((x + y) & 1) * 255));
        var small = BicubicResampler.Resize(new RgbImage(n, n, px), n / 4, n / 4);
        int m = n / 4;
        for (int y = 1; y < m - 1; y++)
            Assert.All(small.Pixels[(3 * (y * m + 1))..(3 * (y * m + m - 1))], v => Assert.InRange(v, 120, 135));
    }
}
