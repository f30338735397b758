using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// The loader's image path: decode + resize to 384 + normalise of ~512 px JPEGs, images/s with 1 and 2
/// worker threads, against a plain single-thread loop over the same images (no loader machinery).
/// Goal of the issue: at least 100 images/s per core.
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
            int n = quick ? 48 : 240;
            var shards = SyntheticCaptionShards.Write(dir, 2, n / 2, imageSide: 448);
            var images = shards.SelectMany(s => WebDatasetReader.Read(s)).Select(s => s.Members["jpg"]).ToList();
            double avgKb = images.Average(i => i.Length) / 1024.0;

            var dest = new float[pre.OutputLength];
            foreach (var img in images.Take(8)) pre.TryPreprocess(img, ImageLimits.Default, dest, out _); // warm-up
            var (_, wall0, cpu0) = BenchTiming.Measure(() =>
            {
                foreach (var img in images) pre.TryPreprocess(img, ImageLimits.Default, dest, out _);
                return 0;
            });
            double baseline = n / wall0;
            yield return new BenchRow($"plain loop, 1 thread ({n} images, {avgKb:N0} KiB avg)", "images/s", baseline, "images/s");
            yield return new BenchRow("plain loop, 1 thread", "images per CPU-second", n / cpu0, "images/s", "goal 100/core", n / cpu0 / 100);

            foreach (int threads in new[] { 1, 2 })
            {
                var opts = new LoaderOptions { BatchSize = 8, Threads = threads, Prefetch = 2 * threads, Seed = 1 };
                var loader = new BatchLoader(shards, new CaptionShardSource(new CaptionSampleBuilder(tokenizer, 144)), pre, opts);
                var (count, wall, cpu) = BenchTiming.Measure(() => loader.Batches().Sum(b => b.ImageCount));
                yield return new BenchRow($"loader, {threads} thread(s), batch 8", "images/s", count / wall, "images/s", "plain loop", count / wall / baseline);
                yield return new BenchRow($"loader, {threads} thread(s), batch 8", "images per CPU-second", count / cpu, "images/s");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
