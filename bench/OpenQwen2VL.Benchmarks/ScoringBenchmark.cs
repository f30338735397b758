using System.Diagnostics;
using OpenQwen2VL.Curation.Scoring;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Synthetic;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// <c>oqvl score</c> at tiny size on CPU (issue 11): pairs/s of the SigLIP scorer (the reference fixture's SigLIP,
/// 384 px) and of the MLM-Filter scorer (the fixture VLM, 729 visual tokens, one metric), batched against batch 1
/// in the same run; and how far the job raises resident memory (sampled every 5 ms) on 2 shards against 8 shards, which
/// should be flat: a shard streams, one batch of pixels is held at a time.
/// </summary>
public sealed class ScoringBenchmark : IBenchmark
{
    public string Name => "scoring";
    public string Description => "oqvl score pairs/s (SigLIP, MLM-Filter) batched vs batch 1, peak memory 2 vs 8 shards";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        string fixtures = FixturesDir();
        string root = Directory.CreateTempSubdirectory("oqvl-bench-score-").FullName;
        try
        {
            yield return new BenchRow("torch intra-op threads", "setting", get_num_threads(), "threads");
            int perShard = quick ? 8 : 24;
            var data = SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions
            {
                Seed = 1, PretrainPairs = 8 * perShard, SftRecords = 0, EvalImages = 1, ImageSize = 64, SamplesPerShard = perShard,
            });
            var layout = SyntheticDatasetWriter.Write(data, Path.Combine(root, "synth"));
            var shards = ShardSpec.Expand(Path.Combine(layout.PretrainDir, "{00000..00007}.tar"));

            string siglip = Path.Combine(root, "siglip");
            Directory.CreateDirectory(siglip);
            foreach (var f in Directory.GetFiles(Path.Combine(fixtures, "reference", "siglip"))) File.Copy(f, Path.Combine(siglip, Path.GetFileName(f)));
            File.Copy(Path.Combine(fixtures, "siglip-tokenizer", "spiece-small.model"), Path.Combine(siglip, "spiece.model"));
            using (var scorer = SiglipPairScorer.Load(siglip, CPU, ScalarType.Float32))
            {
                var two = shards.Take(2).ToList();
                var (one, _) = Measure(scorer, two, 1, Path.Combine(root, "s1"));
                var (batched, memTwo) = Measure(scorer, two, 16, Path.Combine(root, "s16"));
                var (_, memEight) = Measure(scorer, shards, 16, Path.Combine(root, "s16x8"));
                yield return new BenchRow($"siglip (fixture, 384 px), {two.Count * perShard} pairs, batch 1", "throughput", one, "pairs/s");
                yield return new BenchRow($"siglip (fixture, 384 px), {two.Count * perShard} pairs, batch 16", "throughput", batched, "pairs/s", "batch 1", batched / one);
                yield return new BenchRow("siglip batch 16, 2 shards", "RSS growth during the job", memTwo / 1048576.0, "MiB");
                yield return new BenchRow("siglip batch 16, 8 shards", "RSS growth during the job", memEight / 1048576.0, "MiB", "2 shards", (double)memEight / memTwo);
            }

            int pool;
            using (var vlmCase = OpenQwen2VL.Data.Formats.SafetensorsFile.Open(Path.Combine(fixtures, "reference", "vlm_case.safetensors")))
                pool = System.Text.Json.JsonSerializer.Deserialize<int[]>(vlmCase.Metadata["pool_sizes"])![0];
            var source = ModelSourceResolver.Resolve(new ModelRequest
            {
                Llm = Path.Combine(fixtures, "reference", "qwen2"), Vision = Path.Combine(fixtures, "reference", "siglip"),
                Projector = Path.Combine(fixtures, "reference", "projector.safetensors"), Tokenizer = Path.Combine(fixtures, "reference", "tokenizer.json"),
            });
            using var vlm = VlmLoader.Load(source, new VlmLoadSettings { VisualTokens = pool * pool });
            using (var mlm = new MlmFilterPairScorer(vlm.Model, vlm.Tokenizer, vlm.Preprocessor, [MlmFilterMetric.SemanticUnderstanding]))
            {
                var first = shards.Take(1).ToList();
                var (one, _) = Measure(mlm, first, 1, Path.Combine(root, "m1"));
                var (batched, _) = Measure(mlm, first, 8, Path.Combine(root, "m8"));
                yield return new BenchRow($"mlm-filter su (fixture VLM, {pool * pool} visual tokens), {perShard} pairs, batch 1", "throughput", one, "pairs/s");
                yield return new BenchRow($"mlm-filter su (fixture VLM, {pool * pool} visual tokens), {perShard} pairs, batch 8", "throughput", batched, "pairs/s", "batch 1", batched / one);
            }
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    /// <summary>Pairs/s of one job into a fresh folder, and how far the process's resident memory rose above its level at the start.</summary>
    private static (double PairsPerSecond, long PeakRss) Measure(IPairScorer scorer, IReadOnlyList<string> shards, int batch, string outDir)
    {
        GC.Collect();
        long start;
        using (var me = Process.GetCurrentProcess()) start = me.WorkingSet64;
        long peak = start;
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            using var self = Process.GetCurrentProcess();
            while (!done.IsCancellationRequested)
            {
                self.Refresh();
                peak = Math.Max(peak, self.WorkingSet64);
                try { await Task.Delay(5, done.Token); } catch (TaskCanceledException) { }
            }
        });
        var sw = Stopwatch.StartNew();
        var result = ScoreJob.Run(scorer, new ScoreJobOptions { Shards = shards, OutputDir = outDir, BatchSize = batch }, []);
        double seconds = sw.Elapsed.TotalSeconds;
        done.Cancel();
        sampler.Wait();
        return (result.PairsScored / seconds, peak - start);
    }

    private static string FixturesDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "Fixtures");
            if (Directory.Exists(Path.Combine(candidate, "siglip-tokenizer"))) return candidate;
        }
        throw new DirectoryNotFoundException("tests/Fixtures not found above the benchmark's folder: run it from the repository");
    }
}
