using System.Diagnostics;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Generation throughput on the tiny random preset (issue 13): new tokens/s with the preallocated key/value cache
/// against re-running the whole sequence (baseline), and a ragged batch of 16 prompts (0-2 images, different lengths)
/// against the same prompts one at a time (baseline), all measured in this run.
/// </summary>
public sealed class GenerationBenchmark : IBenchmark
{
    public string Name => "generation";
    public string Description => "tiny-model generation tokens/s: KV cache vs full recompute, batch 16 vs batch 1";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        const int vocab = 2048;
        using var vlm = VisionLanguageModel.CreateRandom(VlmConfig.Tiny(vocab), seed: 1);
        vlm.eval();
        yield return new BenchRow("torch intra-op threads", "setting", get_num_threads(), "threads");

        // No stop tokens: every run generates exactly its budget, so tokens/s compares equal work.
        int newTokens = quick ? 64 : 256;
        long[] prompt = Enumerable.Range(0, 32).Select(i => (long)(i * 37 % vocab)).ToArray();
        var single = new[] { new GenerationPrompt(prompt) };
        double full = Seconds(() => vlm.Generate(single, GenerationOptions.Greedy(newTokens, useCache: false)));
        double cached = Seconds(() => vlm.Generate(single, GenerationOptions.Greedy(newTokens, useCache: true)));
        yield return new BenchRow($"greedy {newTokens} new tokens after 32, full recompute", "throughput", newTokens / full, "tokens/s");
        yield return new BenchRow($"greedy {newTokens} new tokens after 32, KV cache", "throughput", newTokens / cached, "tokens/s", "full recompute", full / cached);

        var v = vlm.Config.Vision;
        using var pixels = randn(32, v.NumChannels, v.ImageSize, v.ImageSize, generator: new Generator(2));
        const long M = VlmBatch.ImageMarker;
        var rows = Enumerable.Range(0, 16).Select(r =>
        {
            int images = r % 3, text = 8 + 5 * r;
            var ids = new List<long> { 1 };
            for (int i = 0; i < images; i++) ids.Add(M);
            ids.AddRange(Enumerable.Range(0, text).Select(i => (long)((r * 101 + i * 13) % vocab)));
            return new GenerationPrompt(ids.ToArray(), images == 0 ? null : pixels.narrow(0, 2 * r, images));
        }).ToArray();
        int batchTokens = quick ? 16 : 64;
        var options = GenerationOptions.Greedy(batchTokens);
        double oneByOne = Seconds(() => { foreach (var row in rows) vlm.Generate([row], options); });
        double batched = Seconds(() => vlm.Generate(rows, options));
        long total = rows.Length * (long)batchTokens;
        yield return new BenchRow($"16 prompts (0-2 images, 9-84 text tokens) x {batchTokens} new, batch 1", "throughput", total / oneByOne, "tokens/s");
        yield return new BenchRow($"16 prompts (0-2 images, 9-84 text tokens) x {batchTokens} new, batch 16", "throughput", total / batched, "tokens/s", "batch 1", oneByOne / batched);
        foreach (var row in rows) row.Pixels?.Dispose();
    }

    /// <summary>Seconds of one run after a warm-up run (each run is long enough to time once).</summary>
    private static double Seconds(Action run)
    {
        run();
        var sw = Stopwatch.StartNew();
        run();
        return sw.Elapsed.TotalSeconds;
    }
}
