using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Training.Data;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// The loader's image path: decode + resize to 384 + normalise of ~512 px JPEGs, images/s with 1 and 2 worker threads,
/// against a plain single-thread loop over the same images (no loader machinery), in the same run. Goals: at least
/// 100 images/s per core, and the loader at 90 % of the plain loop per CPU-second. The variants take turns over
/// several rounds and the table shows medians: on a shared machine a single measurement swings by half with the load
/// of the moment (the first row names the load average).
/// </summary>
public sealed class LoaderBenchmark : IBenchmark
{
    public string Name => "loader";
    public string Description => "loader images/s (decode + resize 384 + normalise, ~512 px JPEG) with 1 and 2 threads";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        var tokenizer = BpeTokenizer.Load(Environment.GetEnvironmentVariable("OQVL_TOKENIZER") ?? PackBenchmark.FindFixtureTokenizer());
        var pre = new ImagePreprocessor(384, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        var dir = Directory.CreateTempSubdirectory("oqvl-bench-loader-").FullName;
        try
        {
            int n = quick ? 48 : 160, rounds = quick ? 2 : 5;
            var shards = SyntheticCaptionShards.Write(dir, 2, n / 2, imageSide: 448);
            var images = shards.SelectMany(s => WebDatasetReader.Read(s)).Select(s => s.Members["jpg"]).ToList();
            double avgKb = images.Average(i => i.Length) / 1024.0;
            var source = new CaptionShardSource(new CaptionSampleBuilder(tokenizer, 144));
            var dest = new float[pre.OutputLength];
            BatchLoader Loader(int threads) => new(shards, source, pre, new LoaderOptions { BatchSize = 8, Threads = threads, Prefetch = 2 * threads, Seed = 1 });
            // Consumers hand each batch back once used (as the trainer does after copying it into tensors), so the loader
            // reuses its pixel buffers; "not handed back" is a consumer that keeps them: a fresh buffer per batch.
            long Consume(BatchLoader loader, bool handBack) => loader.Batches().Sum(b =>
            {
                if (handBack) b.Dispose();
                return (long)b.ImageCount;
            });
            var l1 = Loader(1);
            var l2 = Loader(2);
            var l1Kept = Loader(1);
            // The trainer's path: batches of the loader stream copied into CPU tensors (BatchStreamSource).
            using var trainer = new BatchStreamSource(new LoaderBatchStream(shards, source, pre, new LoaderOptions { BatchSize = 8, Threads = 1, Prefetch = 2, Seed = 1 }));
            (string Name, Func<long> Run)[] variants =
            [
                ("plain loop, 1 thread", () =>
                {
                    foreach (var img in images) pre.TryPreprocess(img, ImageLimits.Default, dest, out _);
                    return images.Count;
                }),
                ("loader, 1 thread, batch 8", () => Consume(l1, handBack: true)),
                ("loader, 2 threads, batch 8", () => Consume(l2, handBack: true)),
                ("loader, 1 thread, batch 8, batches not handed back", () => Consume(l1Kept, handBack: false)),
                ("loader -> CPU tensors (trainer's BatchStreamSource), 1 thread, batch 8", () =>
                {
                    long count = 0;
                    for (int i = 0; i < n / 8; i++)
                    {
                        using var batch = trainer.Next();
                        count += batch.PixelValues?.shape[0] ?? 0;
                    }
                    return count;
                }),
            ];
            foreach (var (_, run) in variants) run(); // warm-up (JIT, thread scratch) of every variant
            var wallRates = variants.Select(_ => new List<double>()).ToArray();
            var cpuRates = variants.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < rounds; r++)
                for (int v = 0; v < variants.Length; v++)
                {
                    var (count, wall, cpu) = BenchTiming.Measure(variants[v].Run);
                    wallRates[v].Add(count / wall);
                    cpuRates[v].Add(count / cpu);
                }
            string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
            double plainWall = Median(wallRates[0]), plainCpu = Median(cpuRates[0]);
            yield return new BenchRow($"{variants[0].Name} ({n} images, {avgKb:N0} KiB avg; median of {rounds} rounds; load {load})", "images/s", plainWall, "images/s");
            yield return new BenchRow(variants[0].Name, "images per CPU-second", plainCpu, "images/s", "goal 100/core", plainCpu / 100);
            for (int v = 1; v < variants.Length; v++)
            {
                yield return new BenchRow(variants[v].Name, "images/s", Median(wallRates[v]), "images/s", "plain loop", Median(wallRates[v]) / plainWall);
                yield return new BenchRow(variants[v].Name, "images per CPU-second", Median(cpuRates[v]), "images/s", "plain loop (goal 0.90x)", Median(cpuRates[v]) / plainCpu);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
