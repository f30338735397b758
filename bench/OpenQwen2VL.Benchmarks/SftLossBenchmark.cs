using System.Diagnostics;
using OpenQwen2VL.Model;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training.Model;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Forward + backward of an SFT batch (one image, a prompt, a short labelled answer per row) on CPU: the training loss
/// with the LM head run only at the positions that predict a label (<see cref="VlmTrainableModel.Forward"/>) against the
/// baseline of logits over every position (<see cref="VisionLanguageModel.forward"/>), for the demo's tiny VLM and for
/// a small LM with Qwen2.5's 151,936-token vocabulary, where the head is most of the work.
/// </summary>
public sealed class SftLossBenchmark : IBenchmark
{
    public string Name => "sft-loss";
    public string Description => "SFT step (fwd+bwd) with the head only where labels are predicted vs logits at every position";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        int reps = quick ? 3 : 10;
        foreach (var (name, vocab, hidden, rows) in new[] { ("demo tiny VLM, vocab 1,505", 1505, 64, 16), ("2-layer LM width 256, vocab 151,936", 151936, 256, 4) })
        {
            var tiny = VlmConfig.Tiny(vocab);
            var config = tiny with { Llm = tiny.Llm with { HiddenSize = hidden, IntermediateSize = 2 * hidden } };
            using var model = new VlmTrainableModel(VisionLanguageModel.CreateRandom(config, seed: 1));
            model.SetTrainable(true, true, false);
            using var batch = SftBatch(rows, vocab, config.Vision.ImageSize);
            double full = Time(reps, () =>
            {
                using var scope = NewDisposeScope();
                model.Vlm.forward(batch).Loss.backward();
            });
            double selected = Time(reps, () =>
            {
                using var scope = NewDisposeScope();
                model.Forward(batch).LossSum.backward();
            });
            string workload = $"{name}, {rows} rows x (64 image + 40 prompt + 4 answer tokens)";
            yield return new BenchRow(workload, "logits at every position", full * 1e3, "ms/step");
            yield return new BenchRow(workload, "head at labelled positions", selected * 1e3, "ms/step", "logits at every position", full / selected);
        }
    }

    /// <summary>Mean seconds per call after one warm-up call.</summary>
    static double Time(int reps, Action step)
    {
        step();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) step();
        return sw.Elapsed.TotalSeconds / reps;
    }

    /// <summary>Rows of [image marker, 40 prompt tokens, 4 answer tokens]; only the answer is labelled, as in LLaVA SFT.</summary>
    static VlmBatch SftBatch(int rows, int vocab, int imageSize)
    {
        const int prompt = 40, answer = 4, length = 1 + prompt + answer;
        var rng = new Random(1);
        var ids = new long[rows * length];
        var labels = new long[rows * length];
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < length; t++)
            {
                long id = t == 0 ? VlmBatch.ImageMarker : rng.Next(3, vocab);
                ids[r * length + t] = id;
                labels[r * length + t] = t > prompt ? id : VlmBatch.IgnoreIndex;
            }
        return new VlmBatch
        {
            InputIds = tensor(ids, [rows, length]),
            Labels = tensor(labels, [rows, length]),
            PixelValues = rand(rows, 3, imageSize, imageSize).mul(CachedScalars.Two).sub(CachedScalars.One), // kept Scalars, see CachedScalars
        };
    }
}
