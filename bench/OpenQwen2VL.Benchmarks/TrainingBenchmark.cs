using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Data;
using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Observability;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Training steps on CPU of a ~50M-parameter VLM (Qwen2 LM width 512, 14 layers, tied 16k vocab; tiny frozen
/// SigLIP, 16 visual tokens per image) on 1024-token packed sequences (8 images each): tokens/s and the
/// estimated MFU against the fp32 matmul rate measured in the same run; peak resident memory of a step
/// with and without activation checkpointing (Linux VmHWM, reset before each run).
/// </summary>
public sealed class TrainingBenchmark : IBenchmark
{
    public string Name => "training";
    public string Description => "training step tokens/s, MFU vs measured fp32 matmul rate, peak memory with/without activation checkpointing";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        int layers = quick ? 4 : 14, seqLen = quick ? 256 : 1024, images = quick ? 2 : 8, steps = quick ? 2 : 3;
        double matmul = MeasureMatmulRate(quick ? 512 : 1024);
        yield return new BenchRow("fp32 matmul (square, CPU)", "rate", matmul / 1e9, "GFLOP/s");

        var rows = new List<BenchRow>();
        long? peakPlain = null, peakCkpt = null;
        foreach (bool ckpt in new[] { true, false })
        {
            using var model = BuildModel(layers);
            var cfg = StageConfig.ForStage(Stage.Pretrain) with
            {
                MaxSteps = steps, GlobalBatchSequences = 1, MicroBatchSequences = 1, Precision = "fp32", LearningRate = 1e-4,
                ActivationCheckpointing = ckpt, LogEvery = 1, CheckpointEvery = 1_000_000, PeakFlops = matmul, WarmupRatio = 0,
            };
            var dir = Path.Combine(Path.GetTempPath(), "oqvl-bench-train-" + Guid.NewGuid().ToString("N")[..8]);
            using var source = new RepeatedPackedBatch(seqLen, images, model);
            ResetPeakRss();
            long start = StatusBytes("VmRSS:");
            new Trainer(model, source, new TrainerOptions { Config = cfg, RunDirectory = dir }).Run();
            long peak = StatusBytes("VmHWM:") - start;   // growth over the loaded model: activations, grads, optimizer state
            var m = MetricsLog.Read(Path.Combine(dir, "metrics.jsonl")).Skip(1).ToList();   // step 0 is warm-up
            Directory.Delete(dir, true);
            string w = $"{model.Shape.LlmParameters / 1e6:F0}M LM + {model.Shape.VisionParameters / 1e6:F1}M frozen vision, {seqLen} tokens, ckpt {(ckpt ? "on" : "off")}";
            double tps = m.Average(x => x.TokensPerSecond);
            rows.Add(new BenchRow(w, "tokens/s", tps, "tok/s"));
            rows.Add(new BenchRow(w, "est. MFU", 100 * m.Average(x => x.Mfu ?? 0), "%", "fp32 matmul rate"));
            if (ckpt) peakCkpt = peak; else peakPlain = peak;
        }
        foreach (var r in rows) yield return r;
        if (peakPlain is long p && peakCkpt is long c && p > 0)
        {
            yield return new BenchRow("peak RSS growth during training, checkpointing off", "memory", p / 1048576.0, "MiB");
            yield return new BenchRow("peak RSS growth during training, checkpointing on", "memory", c / 1048576.0, "MiB", "checkpointing off", (double)c / p);
        }
    }

    static VlmTrainableModel BuildModel(int layers)
    {
        var tiny = VlmConfig.Tiny(16384);
        var llm = new Qwen2Config
        {
            VocabSize = 16384, HiddenSize = 512, IntermediateSize = 1408, NumHiddenLayers = layers, NumAttentionHeads = 8,
            NumKeyValueHeads = 2, RopeTheta = 1e6, TieWordEmbeddings = true, MaxPositionEmbeddings = 4096,
        };
        return new VlmTrainableModel(VisionLanguageModel.CreateRandom(tiny with { Llm = llm }, seed: 1));
    }

    /// <summary>2n³ FLOPs per n x n matmul, best of several.</summary>
    static double MeasureMatmulRate(int n)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        a.matmul(b);
        double best = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            using var c = a.matmul(b);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best;
    }

    static void ResetPeakRss()
    {
        GC.Collect();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>A VmRSS/VmHWM line of /proc/self/status in bytes (0 where unavailable).</summary>
    static long StatusBytes(string key)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { return 0; }
    }

    /// <summary>The same packed sequence every step: text with images spliced to exactly the sequence length.</summary>
    sealed class RepeatedPackedBatch(int seqLen, int images, VlmTrainableModel model) : IBatchSource
    {
        public VlmBatch Next()
        {
            int vt = model.VisualTokensPerImage, text = seqLen - images * (vt - 1);
            var ids = new long[text];
            var rng = new Random(1);
            for (int i = 0; i < text; i++) ids[i] = rng.Next(3, (int)model.Vlm.Config.Llm.VocabSize);
            for (int k = 0; k < images; k++) ids[k * (text / images) + 1] = VlmBatch.ImageMarker;
            var labels = ids.Select(t => t == VlmBatch.ImageMarker ? VlmBatch.IgnoreIndex : t).ToArray();
            int s = model.Vlm.Config.Vision.ImageSize;
            return new VlmBatch
            {
                InputIds = tensor(ids, [1, text]),
                Labels = tensor(labels, [1, text]),
                PixelValues = rand(images, 3, s, s) * 2 - 1,
            };
        }

        public JsonNode SavePosition() => new JsonObject();
        public void RestorePosition(JsonNode position) { }
        public void Dispose() { }
    }
}
