using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// <c>oqvl pack</c> end to end on synthetic img2dataset shards (~512 px JPEGs, short captions): samples/s
/// with 1 and all threads, per core, and per CPU-second. Tokenizer: tests' fixture tokenizer.json, or
/// OQVL_TOKENIZER.
/// </summary>
public sealed class PackBenchmark : IBenchmark
{
    public string Name => "pack";
    public string Description => "oqvl pack end to end on synthetic shards: samples/s per core";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        var tokPath = Environment.GetEnvironmentVariable("OQVL_TOKENIZER") ?? FindFixtureTokenizer();
        var tokenizer = BpeTokenizer.Load(tokPath);
        var dir = Directory.CreateTempSubdirectory("oqvl-bench-pack-").FullName;
        try
        {
            int shards = quick ? 2 : 4, perShard = quick ? 40 : 150;
            var input = SyntheticCaptionShards.Write(Path.Combine(dir, "in"), shards, perShard, imageSide: 448);
            int n = shards * perShard;
            // Warm-up (JIT, tokenizer cache) on one shard so the first measured row is not penalised.
            new PackPipeline(tokenizer, new PackOptions()).Run([input[0]], Path.Combine(dir, "warmup"));
            yield return new BenchRow($"input: {n} samples, ~512 px JPEG", "shards", shards, "");
            double? single = null;
            foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
            {
                foreach (bool reencode in new[] { false, true })
                {
                    var opts = new PackOptions { Threads = threads, Reencode = reencode };
                    var (report, wall, cpu) = BenchTiming.Measure(() => new PackPipeline(tokenizer, opts).Run(input, Path.Combine(dir, $"out-{threads}-{reencode}")));
                    string w = $"{threads} thr, re-enc {(reencode ? "on" : "off")}, fill {report.FillRatio:P0}";
                    double rate = n / wall;
                    if (!reencode && threads == 1) single = rate;
                    yield return new BenchRow(w, "samples/s", rate, "samples/s", threads > 1 && !reencode ? "1 thread" : null, threads > 1 && !reencode ? rate / single : null);
                    yield return new BenchRow(w, "samples/s per core", rate / threads, "samples/s");
                    yield return new BenchRow(w, "samples per CPU-second", n / cpu, "samples/s");
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    internal static string FindFixtureTokenizer()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "tests", "OpenQwen2VL.Tests", "Fixtures", "reference", "tokenizer.json");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("set OQVL_TOKENIZER to a tokenizer.json");
    }
}
