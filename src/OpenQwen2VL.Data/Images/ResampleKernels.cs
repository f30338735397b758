namespace OpenQwen2VL.Data.Images;

/// <summary>The two fixed-point convolution passes of <see cref="BicubicResampler"/> on packed RGB bytes.</summary>
internal static unsafe class ResampleKernels
{
    private const int Half = 1 << (ResampleCoefficients.PrecisionBits - 1);

    private static byte Clip8(int v)
    {
        v >>= ResampleCoefficients.PrecisionBits;
        return (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
    }

    /// <summary>Resamples rows <paramref name="firstRow"/>.. of <paramref name="src"/> along x into <paramref name="rows"/> rows of <paramref name="dst"/>.</summary>
    public static void Horizontal(ReadOnlySpan<byte> src, int srcWidth, int firstRow, int rows, Span<byte> dst, ResampleCoefficients c)
    {
        int outW = c.OutSize, ks = c.KernelSize, srcStride = 3 * srcWidth, dstStride = 3 * outW;
        fixed (byte* s0 = src)
        fixed (byte* d0 = dst)
        fixed (int* w0 = c.FixedWeights)
        fixed (int* start = c.Start)
        fixed (int* count = c.Count)
        {
            for (int y = 0; y < rows; y++)
            {
                byte* srow = s0 + (long)(y + firstRow) * srcStride;
                byte* drow = d0 + (long)y * dstStride;
                for (int xx = 0; xx < outW; xx++)
                {
                    byte* p = srow + 3 * start[xx];
                    int* k = w0 + xx * ks;
                    int n = count[xx];
                    int r = Half, g = Half, b = Half;
                    for (int x = 0; x < n; x++, p += 3)
                    {
                        int w = k[x];
                        r += p[0] * w;
                        g += p[1] * w;
                        b += p[2] * w;
                    }
                    drow[3 * xx] = Clip8(r);
                    drow[3 * xx + 1] = Clip8(g);
                    drow[3 * xx + 2] = Clip8(b);
                }
            }
        }
    }

    /// <summary>Resamples along y; the coefficient windows are shifted up by <paramref name="rowOffset"/> rows of <paramref name="src"/>.</summary>
    public static void Vertical(ReadOnlySpan<byte> src, int stride, int rowOffset, Span<byte> dst, int outRows, ResampleCoefficients c)
    {
        int ks = c.KernelSize;
        fixed (byte* s0 = src)
        fixed (byte* d0 = dst)
        fixed (int* w0 = c.FixedWeights)
        {
            for (int yy = 0; yy < outRows; yy++)
            {
                byte* top = s0 + (long)(c.Start[yy] - rowOffset) * stride;
                int* k = w0 + yy * ks;
                int n = c.Count[yy];
                byte* drow = d0 + (long)yy * stride;
                for (int i = 0; i < stride; i++)
                {
                    int acc = Half;
                    byte* p = top + i;
                    for (int y = 0; y < n; y++, p += stride) acc += *p * k[y];
                    drow[i] = Clip8(acc);
                }
            }
        }
    }
}
