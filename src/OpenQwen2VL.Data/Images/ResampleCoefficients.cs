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

    /// <summary>
    /// Web images come in thousands of distinct sizes and a table for a large source is a few hundred KiB, so the
    /// cache is bounded: when full it is simply emptied (the common sizes come back at once).
    /// </summary>
    private const int MaxCachedTables = 512;

    private static readonly ConcurrentDictionary<(int, int), ResampleCoefficients> Cache = new();

    public int InSize { get; }
    public int OutSize { get; }
    /// <summary>Row length of <see cref="FixedWeights"/> (max taps per output pixel).</summary>
    public int KernelSize { get; }
    /// <summary>First source index of each output pixel's window.</summary>
    public int[] Start { get; }
    /// <summary>Number of source pixels in each output pixel's window.</summary>
    public int[] Count { get; }
    /// <summary>Normalised weights in PIL's fixed point (scaled by 2^22, rounded half away from zero), OutSize x KernelSize, zero past Count.</summary>
    public int[] FixedWeights { get; }

    public static ResampleCoefficients Get(int inSize, int outSize)
    {
        if (Cache.TryGetValue((inSize, outSize), out var table)) return table;
        if (Cache.Count >= MaxCachedTables) Cache.Clear();
        return Cache.GetOrAdd((inSize, outSize), static k => new ResampleCoefficients(k.Item1, k.Item2));
    }

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
        FixedWeights = new int[outSize * KernelSize];
        double invFilterScale = 1.0 / filterScale;
        Span<double> k = KernelSize <= 256 ? stackalloc double[KernelSize] : new double[KernelSize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            int xmin = Math.Max(0, (int)(center - support + 0.5));   // C cast truncates, as in PIL
            int xmax = Math.Min(inSize, (int)(center + support + 0.5)) - xmin;
            double sum = 0;
            for (int x = 0; x < xmax; x++)
            {
                double w = Bicubic((x + xmin - center + 0.5) * invFilterScale);
                k[x] = w;
                sum += w;
            }
            var fixedRow = FixedWeights.AsSpan(xx * KernelSize, KernelSize);
            for (int x = 0; x < xmax; x++)
            {
                double w = (sum != 0.0 ? k[x] / sum : k[x]) * (1 << PrecisionBits);
                fixedRow[x] = (int)(w < 0 ? w - 0.5 : w + 0.5);
            }
            Start[xx] = xmin;
            Count[xx] = Math.Max(0, xmax);
        }
    }
}
