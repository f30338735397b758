using System.Diagnostics;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Throughput of the networks on the tiny random preset (CPU): LM and VLM forward tokens/s, and greedy
/// generation tokens/s with the key/value cache against re-running the whole sequence (the baseline).
/// </summary>
public sealed class ModelBenchmark : IBenchmark
{
    public string Name => "model";
    public string Description => "tiny-config forward tokens/s; greedy generation tokens/s with vs without KV cache";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        const int vocab = 2048;
        using var vlm = VisionLanguageModel.CreateRandom(VlmConfig.Tiny(vocab), seed: 1);
        vlm.eval();
        var lm = vlm.Llm;
        int reps = quick ? 3 : 10;
        // Intra-op threads matter a lot for tiny ops on a shared machine (OMP_NUM_THREADS sets them).
        yield return new BenchRow("torch intra-op threads", "setting", get_num_threads(), "threads");
        long batch = 4, seq = quick ? 128 : 512;

        using (var ids = randint(0, vocab, [batch, seq], dtype: ScalarType.Int64))
        using (no_grad())
        {
            double s = Time(reps, () => { using var logits = lm.forward(ids); });
            yield return new BenchRow($"LM forward B={batch} L={seq}", "throughput", batch * seq / s, "tokens/s");
        }

        var v = vlm.Config.Vision;
        long perImage = (long)vlm.Config.PoolSide * vlm.Config.PoolSide;
        using (var ids = VlmIds(batch, seq, perImage))
        using (var pixels = randn(batch * 2, v.NumChannels, v.ImageSize, v.ImageSize))
        using (no_grad())
        {
            double s = Time(reps, () =>
            {
                using var b = new VlmBatch { InputIds = ids.alias(), Labels = ids.alias(), PixelValues = pixels.alias() };
                using var o = vlm.forward(b);
            });
            long tokens = batch * (seq - 2 + 2 * perImage);
            yield return new BenchRow($"VLM forward+loss B={batch}, 2 images/row", "throughput", tokens / s, "tokens/s");
        }

        int prompt = 32, newTokens = quick ? 32 : 128;
        using var promptIds = randint(0, vocab, [1, prompt], dtype: ScalarType.Int64);
        int genReps = quick ? 1 : 3;
        double full = Time(genReps, () => GreedyDecoding.FromIds(lm, promptIds, newTokens, useCache: false));
        double cached = Time(genReps, () => GreedyDecoding.FromIds(lm, promptIds, newTokens, useCache: true));
        yield return new BenchRow($"greedy {newTokens} tokens after {prompt}, no cache", "throughput", newTokens / full, "tokens/s");
        yield return new BenchRow($"greedy {newTokens} tokens after {prompt}, KV cache", "throughput", newTokens / cached, "tokens/s", "no cache", full / cached);
    }

    /// <summary>Rows of text with two image markers each (labels = ids, markers ignored by the loss).</summary>
    private static Tensor VlmIds(long batch, long seq, long perImage)
    {
        var ids = randint(0, 1000, [batch, seq], dtype: ScalarType.Int64);
        ids[TensorIndex.Colon, 1] = tensor(VlmBatch.ImageMarker);
        ids[TensorIndex.Colon, seq / 2] = tensor(VlmBatch.ImageMarker);
        return ids;
    }

    /// <summary>Mean seconds per run after one warm-up run.</summary>
    private static double Time(int reps, Action run)
    {
        run();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) run();
        return sw.Elapsed.TotalSeconds / reps;
    }
}
