using System.Diagnostics;
using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Loader image path: decode a ~512 px JPEG + resize to 384x384 + normalise to CHW floats, images/s per thread with
/// 1 and 2 threads, against a naive float antialiased bicubic (weights recomputed per pixel, float intermediate) run
/// in the same process on the same images. Goal: at least 100 images/s per core.
/// </summary>
public sealed class ImageBenchmark : IBenchmark
{
    private const int Size = 384;

    public string Name => "images";
    public string Description => "decode + resize 384 + normalise of ~512 px JPEGs: images/s per thread (1, 2 threads) vs naive float resize";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        var jpegs = MakeJpegs(quick ? 8 : 32);
        int rounds = quick ? 2 : 6;
        var pre = new ImagePreprocessor(Size, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        var naive = new NaiveFloatPreprocessor(Size, 0.5f, 0.5f);
        Action<byte[], float[]> ours = (jpeg, dst) =>
        {
            if (!pre.TryPreprocess(jpeg, ImageLimits.Default, dst, out var why)) throw new InvalidDataException(why);
        };

        // Warm-up (JIT, coefficient tables, thread scratch) on both paths.
        Measure(jpegs, 1, 1, ours);
        Measure(jpegs, 1, 1, naive.Run);

        var decodeOnly = Measure(jpegs, rounds, 1, DecodeOnly);
        var decoded = jpegs.Select(j =>
        {
            byte[]? buf = null;
            ImageDecoder.TryDecodeRgbx(j, ImageLimits.Default, ref buf, out int w, out int h, out _);
            return (buf!, w, h);
        }).ToArray();
        var resized = new byte[4 * Size * Size];
        int next = 0;
        var resizeOnly = Measure(jpegs, rounds, 1, (_, _) =>
        {
            var (buf, w, h) = decoded[next++ % decoded.Length];
            BicubicResampler.Resize(buf, w, h, 4, resized, Size, Size);
        });
        var naive1 = Measure(jpegs, Math.Max(1, rounds / 3), 1, naive.Run);
        var ours1 = Measure(jpegs, rounds, 1, ours);
        var ours2 = Measure(jpegs, rounds, 2, ours);
        var naive2 = Measure(jpegs, Math.Max(1, rounds / 3), 2, naive.Run);

        // Wall-clock rates suffer when other processes share the cores; images per CPU-second is the per-core rate.
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        string setup = $"{jpegs.Length} JPEGs ~512 px, ~{jpegs.Average(j => j.Length) / 1024:0} KiB; {Environment.ProcessorCount} cores, load {load}";
        yield return new BenchRow($"decode only (SkiaSharp, to RGBx), 1 thread; {setup}", "images per CPU-second", decodeOnly.PerCpuSecond, "img/s/core");
        yield return new BenchRow("resize only (RGBx, fixed point, SIMD), 1 thread", "images per CPU-second", resizeOnly.PerCpuSecond, "img/s/core");
        yield return new BenchRow("decode+resize+normalise, 1 thread", "images per CPU-second", ours1.PerCpuSecond, "img/s/core", "naive float resize, 1 thread", ours1.PerCpuSecond / naive1.PerCpuSecond);
        yield return new BenchRow("naive float resize path, 1 thread", "images per CPU-second", naive1.PerCpuSecond, "img/s/core");
        yield return new BenchRow("decode+resize+normalise, 2 threads", "images per CPU-second", ours2.PerCpuSecond, "img/s/core", "naive float resize, 2 threads", ours2.PerCpuSecond / naive2.PerCpuSecond);
        yield return new BenchRow("decode+resize+normalise, 1 thread", "wall images/s per thread", ours1.WallPerSecond, "img/s");
        yield return new BenchRow("decode+resize+normalise, 2 threads", "wall images/s per thread", ours2.WallPerSecond / 2, "img/s", "1 thread (scaling of the total)", ours2.WallPerSecond / ours1.WallPerSecond);
        yield return new BenchRow("resize+normalise share of CPU time, 1 thread", "fraction", 1 - ours1.PerCpuSecond / decodeOnly.PerCpuSecond, "");
    }

    private readonly record struct Rate(double WallPerSecond, double PerCpuSecond);

    [ThreadStatic] private static byte[]? t_decodeBuffer;

    private static void DecodeOnly(byte[] jpeg, float[] unused)
    {
        if (!ImageDecoder.TryDecodeRgbx(jpeg, ImageLimits.Default, ref t_decodeBuffer, out _, out _, out var why)) throw new InvalidDataException(why);
    }

    /// <summary>Images/s over all threads (wall and per process CPU-second): each thread processes the whole set <paramref name="rounds"/> times.</summary>
    private static Rate Measure(byte[][] jpegs, int rounds, int threads, Action<byte[], float[]> work)
    {
        GC.Collect();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var dst = new float[3 * Size * Size];
            for (int r = 0; r < rounds; r++)
                for (int i = 0; i < jpegs.Length; i++) work(jpegs[(i + t * 7) % jpegs.Length], dst);
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        double images = (double)threads * rounds * jpegs.Length;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        return new Rate(images / sw.Elapsed.TotalSeconds, images / cpu.TotalSeconds);
    }

    /// <summary>Photo-like test JPEGs around 512 px (several aspect ratios): gradients, shapes and noise.</summary>
    private static byte[][] MakeJpegs(int count)
    {
        var rng = new Random(1234);
        (int W, int H)[] sizes = [(512, 512), (512, 384), (384, 512), (500, 375), (640, 480)];
        var result = new byte[count][];
        for (int n = 0; n < count; n++)
        {
            var (w, h) = sizes[n % sizes.Length];
            var px = new byte[3 * w * h];
            int cx = rng.Next(w), cy = rng.Next(h), r2 = rng.Next(40, 200) * rng.Next(40, 200);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = 3 * (y * w + x);
                    bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r2;
                    px[i] = (byte)Math.Clamp(x * 255 / w + rng.Next(-12, 13), 0, 255);
                    px[i + 1] = (byte)Math.Clamp((inside ? 220 : y * 255 / h) + rng.Next(-12, 13), 0, 255);
                    px[i + 2] = (byte)Math.Clamp(((x / 16 + y / 16) % 2 == 0 ? 180 : 60) + rng.Next(-12, 13), 0, 255);
                }
            result[n] = ImageEncoder.EncodeJpeg(new RgbImage(w, h, px), 90);
        }
        return result;
    }

    /// <summary>
    /// Baseline: the obvious float implementation of the same antialiased bicubic (kernel weights evaluated for every
    /// output pixel, float intermediate, no tables, no SIMD, decode through the public RGB API).
    /// </summary>
    private sealed class NaiveFloatPreprocessor(int size, float mean, float std)
    {
        public void Run(byte[] jpeg, float[] dst)
        {
            if (!ImageDecoder.TryDecode(jpeg, ImageLimits.Default, out var img, out var why)) throw new InvalidDataException(why);
            int w = img!.Width, h = img.Height, plane = size * size;
            var px = img.Pixels;
            var tmp = new float[3 * size * h];
            var weights = new float[64];
            for (int y = 0; y < h; y++)
                for (int o = 0; o < size; o++)
                {
                    int lo = Weights(w, o, weights, out int count);
                    float r = 0, g = 0, b = 0;
                    for (int t = 0; t < count; t++)
                    {
                        int p = 3 * (y * w + lo + t);
                        r += weights[t] * px[p]; g += weights[t] * px[p + 1]; b += weights[t] * px[p + 2];
                    }
                    int q = 3 * (y * size + o);
                    tmp[q] = r; tmp[q + 1] = g; tmp[q + 2] = b;
                }
            for (int o = 0; o < size; o++)
                for (int x = 0; x < size; x++)
                {
                    int lo = Weights(h, o, weights, out int count);
                    for (int c = 0; c < 3; c++)
                    {
                        float v = 0;
                        for (int t = 0; t < count; t++) v += weights[t] * tmp[3 * ((lo + t) * size + x) + c];
                        dst[c * plane + o * size + x] = (Math.Clamp(v, 0f, 255f) / 255f - mean) / std;
                    }
                }
        }

        /// <summary>Normalised stretched-kernel weights for output index <paramref name="o"/>, evaluated afresh each call.</summary>
        private int Weights(int inSize, int o, float[] weights, out int count)
        {
            double scale = (double)inSize / size, fs = Math.Max(1.0, scale), support = 2.0 * fs;
            double center = (o + 0.5) * scale;
            int lo = Math.Max(0, (int)(center - support + 0.5)), hi = Math.Min(inSize, (int)(center + support + 0.5));
            count = hi - lo;
            float norm = 0;
            for (int t = 0; t < count; t++) norm += weights[t] = (float)ResampleCoefficients.Bicubic((lo + t - center + 0.5) / fs);
            for (int t = 0; t < count; t++) weights[t] /= norm;
            return lo;
        }
    }
}
