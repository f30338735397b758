using System.Diagnostics;
using OpenQwen2VL.Data.Packing;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// First-Fit-Decreasing on lengths alone: items/s of the O(n log n) packer at 1M and 29M items (the
/// paper's 29M pairs) against the naive O(n · bins) algorithm at sizes it can finish; bins are checked
/// identical wherever both run.
/// </summary>
public sealed class PackingBenchmark : IBenchmark
{
    public string Name => "ffd";
    public string Description => "FFD packing items/s vs the naive algorithm (capacity 4096, caption + 144 visual tokens)";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        const int capacity = 4096;
        int[] naiveSizes = quick ? [5_000, 20_000] : [20_000, 100_000];
        foreach (int n in naiveSizes)
        {
            var lengths = SyntheticLengths(n, seed: n);
            var (fast, tFast) = Time(() => FirstFitDecreasing.Pack(lengths, capacity));
            var (naive, tNaive) = Time(() => NaiveFirstFitDecreasing.Pack(lengths, capacity));
            bool same = fast.Items.AsSpan().SequenceEqual(naive.Items) && fast.BinStarts.AsSpan().SequenceEqual(naive.BinStarts);
            if (!same) throw new InvalidOperationException($"FFD and naive FFD disagree at n={n}");
            yield return new BenchRow($"naive FFD n={n:N0}", "items/s", n / tNaive, "items/s");
            yield return new BenchRow($"FFD n={n:N0} (bins identical: {same})", "items/s", n / tFast, "items/s", "naive FFD", tNaive / tFast);
        }
        int[] sizes = quick ? [1_000_000] : [1_000_000, 29_000_000];
        foreach (int n in sizes)
        {
            var lengths = SyntheticLengths(n, seed: 7);
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var (p, t) = Time(() => FirstFitDecreasing.Pack(lengths, capacity));
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            yield return new BenchRow($"FFD n={n:N0}: {p.BinCount:N0} bins, fill {p.FillRatio:P2}", "wall time", t, "s");
            // The machine is shared: CPU time shows the cost when wall time is inflated by other load.
            yield return new BenchRow($"FFD n={n:N0}", "CPU time", cpu, "s", "goal 30 s", cpu / 30);
            yield return new BenchRow($"FFD n={n:N0}", "items/s", n / t, "items/s", "goal 29M in 30 s", (n / t) / (29_000_000 / 30.0));
        }
    }

    /// <summary>Pre-training sample lengths: a short-tailed caption token count plus 144 − 1 visual tokens, and a few long outliers.</summary>
    public static int[] SyntheticLengths(int n, int seed)
    {
        var rng = new Random(seed);
        var lengths = new int[n];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble();
            int caption = u < 0.995 ? 4 + (int)(-Math.Log(1 - rng.NextDouble()) * 18) : rng.Next(100, 3800);
            lengths[i] = Math.Min(4096, 4 + caption + 143);
        }
        return lengths;
    }

    private static (T Result, double Seconds) Time<T>(Func<T> f)
    {
        var sw = Stopwatch.StartNew();
        var r = f();
        return (r, sw.Elapsed.TotalSeconds);
    }
}
