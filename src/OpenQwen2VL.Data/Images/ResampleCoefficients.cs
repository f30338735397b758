using System.Collections.Concurrent;

namespace OpenQwen2VL.Data.Images;

/// <summary>
/// Per-output-pixel bicubic weights for one axis (source size → destination size), in the layout and fixed-point
/// format of PIL's ImagingResample, so our resize reproduces PIL's integers. Facts taken from Pillow's Resample.c:
/// kernel a = -0.5 with support 2, stretched by the downscale factor (antialias); the window of source pixels
/// is rounded, weights are normalised to sum 1, then scaled to 22 fractional bits with round-half-away-from-zero.
/// Tables are cached per (source, destination) size because a loader sees the same few sizes over and over.
/// </summary>
public sealed class ResampleCoefficients
{
    /// <summary>Fractional bits of the fixed-point weights (32 - 8 - 2 in PIL: 8 bits of value, 2 of headroom).</summary>
    public const int PrecisionBits = 22;

    private static readonly ConcurrentDictionary<(int, int), ResampleCoefficients> Cache = new();

    public int InSize { get; }
    public int OutSize { get; }
    /// <summary>Row length of <see cref="FixedWeights"/> and <see cref="Weights"/> (max taps per output pixel).</summary>
    public int KernelSize { get; }
    /// <summary>First source index of each output pixel's window.</summary>
    public int[] Start { get; }
    /// <summary>Number of source pixels in each output pixel's window.</summary>
    public int[] Count { get; }
    /// <summary>Normalised weights, OutSize x KernelSize, zero past Count.</summary>
    public double[] Weights { get; }
    /// <summary>The same weights in PIL's fixed point (scaled by 2^22, rounded half away from zero).</summary>
    public int[] FixedWeights { get; }

    public static ResampleCoefficients Get(int inSize, int outSize) =>
        Cache.GetOrAdd((inSize, outSize), static k => new ResampleCoefficients(k.Item1, k.Item2));

    /// <summary>The bicubic convolution kernel with a = -0.5 (PIL's BICUBIC filter).</summary>
    public static double Bicubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    private ResampleCoefficients(int inSize, int outSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outSize);
        InSize = inSize;
        OutSize = outSize;
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);        // stretch the kernel only when shrinking (antialias)
        double support = 2.0 * filterScale;
        KernelSize = (int)Math.Ceiling(support) * 2 + 1;
        Start = new int[outSize];
        Count = new int[outSize];
        Weights = new double[outSize * KernelSize];
        FixedWeights = new int[outSize * KernelSize];
        double invFilterScale = 1.0 / filterScale;
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            int xmin = Math.Max(0, (int)(center - support + 0.5));   // C cast truncates, as in PIL
            int xmax = Math.Min(inSize, (int)(center + support + 0.5)) - xmin;
            var k = Weights.AsSpan(xx * KernelSize, KernelSize);
            double sum = 0;
            for (int x = 0; x < xmax; x++)
            {
                double w = Bicubic((x + xmin - center + 0.5) * invFilterScale);
                k[x] = w;
                sum += w;
            }
            if (sum != 0.0)
                for (int x = 0; x < xmax; x++) k[x] /= sum;
            Start[xx] = xmin;
            Count[xx] = Math.Max(0, xmax);
        }
        for (int i = 0; i < Weights.Length; i++)
        {
            double w = Weights[i] * (1 << PrecisionBits);
            FixedWeights[i] = (int)(w < 0 ? w - 0.5 : w + 0.5);
        }
    }
}
