using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OpenQwen2VL.Data.Images;

/// <summary>
/// The two fixed-point convolution passes of <see cref="BicubicResampler"/> on packed 8-bit pixels (3 or 4 channels).
/// Integer results are identical on every path; the SIMD paths (SSE4.1 / AVX2) only compute the same sums faster,
/// and saturating packs do PIL's clip to 0..255.
/// </summary>
internal static unsafe class ResampleKernels
{
    private const int Bits = ResampleCoefficients.PrecisionBits;
    private const int Half = 1 << (Bits - 1);

    private static byte Clip8(int v)
    {
        v >>= Bits;
        return (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
    }

    /// <summary>Resamples rows <paramref name="firstRow"/>.. of <paramref name="src"/> along x into <paramref name="rows"/> rows of <paramref name="dst"/>.</summary>
    public static void Horizontal(ReadOnlySpan<byte> src, int srcWidth, int channels, int firstRow, int rows, Span<byte> dst, ResampleCoefficients c)
    {
        int outW = c.OutSize, ks = c.KernelSize, srcStride = channels * srcWidth, dstStride = channels * outW;
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
                if (channels == 4 && Sse41.IsSupported)
                    HorizontalRowRgbx(srow, drow, outW, ks, w0, start, count);
                else
                    HorizontalRowScalar(srow, drow, channels, outW, ks, w0, start, count);
            }
        }
    }

    private static void HorizontalRowScalar(byte* srow, byte* drow, int channels, int outW, int ks, int* w0, int* start, int* count)
    {
        for (int xx = 0; xx < outW; xx++, drow += channels)
        {
            byte* p = srow + channels * start[xx];
            int* k = w0 + xx * ks;
            int n = count[xx];
            int r = Half, g = Half, b = Half;
            for (int x = 0; x < n; x++, p += channels)
            {
                int w = k[x];
                r += p[0] * w;
                g += p[1] * w;
                b += p[2] * w;
            }
            drow[0] = Clip8(r);
            drow[1] = Clip8(g);
            drow[2] = Clip8(b);
            if (channels == 4) drow[3] = 255;
        }
    }

    /// <summary>One RGBx pixel = one 4-lane int vector: each tap is a widen, a multiply and an add.</summary>
    private static void HorizontalRowRgbx(byte* srow, byte* drow, int outW, int ks, int* w0, int* start, int* count)
    {
        for (int xx = 0; xx < outW; xx++)
        {
            byte* p = srow + 4 * start[xx];
            int* k = w0 + xx * ks;
            int n = count[xx];
            var acc = Vector128.Create(Half);
            for (int x = 0; x < n; x++, p += 4)
                acc += Sse41.ConvertToVector128Int32(p) * Vector128.Create(k[x]);
            acc = Sse2.ShiftRightArithmetic(acc, Bits);
            var words = Sse2.PackSignedSaturate(acc, acc);
            var bytes = Sse2.PackUnsignedSaturate(words, words);
            ((uint*)drow)[xx] = bytes.AsUInt32().ToScalar() | 0xFF000000u;   // alpha lane: opaque
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
                int i = 0;
                if (Avx2.IsSupported)
                    for (; i + 32 <= stride; i += 32) VerticalChunk32(top + i, stride, n, k, drow + i);
                for (; i < stride; i++)
                {
                    int acc = Half;
                    byte* p = top + i;
                    for (int y = 0; y < n; y++, p += stride) acc += *p * k[y];
                    drow[i] = Clip8(acc);
                }
            }
        }
    }

    /// <summary>32 output bytes of one row: four 8-lane int accumulators, packed back with saturation.</summary>
    private static void VerticalChunk32(byte* top, int stride, int n, int* k, byte* dst)
    {
        var a0 = Vector256.Create(Half);
        var a1 = a0; var a2 = a0; var a3 = a0;
        byte* p = top;
        for (int y = 0; y < n; y++, p += stride)
        {
            var w = Vector256.Create(k[y]);
            a0 += Avx2.ConvertToVector256Int32(p) * w;
            a1 += Avx2.ConvertToVector256Int32(p + 8) * w;
            a2 += Avx2.ConvertToVector256Int32(p + 16) * w;
            a3 += Avx2.ConvertToVector256Int32(p + 24) * w;
        }
        var w01 = Avx2.PackSignedSaturate(Avx2.ShiftRightArithmetic(a0, Bits), Avx2.ShiftRightArithmetic(a1, Bits));
        var w23 = Avx2.PackSignedSaturate(Avx2.ShiftRightArithmetic(a2, Bits), Avx2.ShiftRightArithmetic(a3, Bits));
        var packed = Avx2.PackUnsignedSaturate(w01, w23);
        // The packs interleave 128-bit lanes: dwords come out as a0-3 b0-3 c0-3 d0-3 a4-7 b4-7 c4-7 d4-7.
        var ordered = Avx2.PermuteVar8x32(packed.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
        ordered.AsByte().Store(dst);
    }
}
