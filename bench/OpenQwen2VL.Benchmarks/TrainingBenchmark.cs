using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenQwen2VL.Model;
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
/// estimated MFU against the fp32 matmul rate measured in the same run; peak resident memory growth of
/// training with and without activation checkpointing (Linux VmHWM, each configuration in its own process).
/// </summary>
public sealed class TrainingBenchmark : IBenchmark
{
    public string Name => "training";
    public string Description => "training step tokens/s, MFU vs measured fp32 matmul rate, peak memory with/without activation checkpointing";

    const string ChildVar = "OQVL_TRAINING_BENCH_CHILD";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        int layers = quick ? 4 : 14, seqLen = quick ? 256 : 1024, images = quick ? 2 : 8, steps = quick ? 2 : 2;
        if (Environment.GetEnvironmentVariable(ChildVar) is string child)
        {
            RunChild(child, layers, seqLen, images, steps);
            return [];
        }
        double matmul = MeasureMatmulRate(quick ? 512 : 1024);
        var rows = new List<BenchRow> { new("fp32 matmul (square, CPU)", "rate", matmul / 1e9, "GFLOP/s") };
        // Each configuration runs in a fresh process: the C allocator keeps freed memory, so a second run in
        // the same process would inherit the first one's heap and its peak RSS would mean nothing.
        var results = new Dictionary<bool, JsonNode>();
        foreach (bool ckpt in new[] { false, true })
            results[ckpt] = RunInChildProcess(ckpt, matmul, quick);
        foreach (bool ckpt in new[] { false, true })
        {
            var r = results[ckpt];
            string w = $"{r["llm_params"]!.GetValue<double>() / 1e6:F0}M LM + frozen tiny SigLIP, {seqLen} tokens/seq, checkpointing {(ckpt ? "on" : "off")}";
            rows.Add(new BenchRow(w, "tokens/s", r["tokens_per_s"]!.GetValue<double>(), "tok/s"));
            rows.Add(new BenchRow(w, "est. MFU", 100 * r["mfu"]!.GetValue<double>(), "%", "fp32 matmul rate"));
        }
        double off = results[false]["peak_growth"]!.GetValue<double>(), on = results[true]["peak_growth"]!.GetValue<double>();
        rows.Add(new BenchRow("peak RSS growth over the loaded model, checkpointing off", "memory", off / 1048576.0, "MiB"));
        rows.Add(new BenchRow("peak RSS growth over the loaded model, checkpointing on", "memory", on / 1048576.0, "MiB", "checkpointing off", on / off));
        return rows;
    }

    static JsonNode RunInChildProcess(bool ckpt, double matmul, bool quick)
    {
        var outFile = Path.Combine(Path.GetTempPath(), "oqvl-bench-train-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(TrainingBenchmark).Assembly.Location);
        psi.ArgumentList.Add("training");
        if (quick) psi.ArgumentList.Add("--quick");
        psi.Environment[ChildVar] = $"{(ckpt ? "on" : "off")};{matmul.ToString(System.Globalization.CultureInfo.InvariantCulture)};{outFile}";
        psi.RedirectStandardOutput = true;
        try
        {
            using var p = Process.Start(psi)!;
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0 || !File.Exists(outFile)) throw new InvalidOperationException($"training benchmark child (checkpointing {ckpt}) failed with exit code {p.ExitCode}");
            return JsonNode.Parse(File.ReadAllText(outFile))!;
        }
        finally { File.Delete(outFile); }
    }

    static void RunChild(string spec, int layers, int seqLen, int images, int steps)
    {
        var parts = spec.Split(';');
        bool ckpt = parts[0] == "on";
        double matmul = double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        using var model = BuildModel(layers);
        var cfg = StageConfig.ForStage(Stage.Pretrain) with
        {
            MaxSteps = steps, GlobalBatchSequences = 1, MicroBatchSequences = 1, Precision = "fp32", LearningRate = 1e-4,
            ActivationCheckpointing = ckpt, LogEvery = 1, CheckpointEvery = 1_000_000, PeakFlops = matmul, WarmupRatio = 0,
        };
        var dir = Path.Combine(Path.GetTempPath(), "oqvl-bench-train-" + Guid.NewGuid().ToString("N")[..8]);
        using var source = new RepeatedPackedBatch(seqLen, images, model);
        long start = StatusBytes("VmRSS:");
        long peak;
        List<StepMetrics> m;
        try
        {
            new Trainer(model, source, new TrainerOptions { Config = cfg, RunDirectory = dir }).Run();
            peak = StatusBytes("VmHWM:");
            m = MetricsLog.Read(Path.Combine(dir, "metrics.jsonl")).Skip(1).ToList();   // step 0 is warm-up
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
        File.WriteAllText(parts[2], new JsonObject
        {
            ["llm_params"] = model.Shape.LlmParameters,
            ["tokens_per_s"] = m.Average(x => x.TokensPerSecond),
            ["mfu"] = m.Average(x => x.Mfu ?? 0),
            ["peak_growth"] = peak - start,   // activations, gradients, optimizer state
        }.ToJsonString());
    }

    internal static VlmTrainableModel BuildModel(int layers)
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
    internal sealed class RepeatedPackedBatch(int seqLen, int images, VlmTrainableModel model) : IBatchSource
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
                PixelValues = rand(images, 3, s, s).mul(CachedScalars.Two).sub(CachedScalars.One), // kept Scalars, see CachedScalars
            };
        }

        public JsonNode SavePosition() => new JsonObject();
        public void RestorePosition(JsonNode position) { }
        public void Dispose() { }
    }
}
