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
using OpenQwen2VL.Training.Optim;
using OpenQwen2VL.Training.Precision;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Training steps on CPU of a ~48M-parameter VLM (Qwen2 LM width 512, 14 layers, tied 16k vocab; tiny frozen
/// SigLIP, 16 visual tokens per image) on 1024-token packed sequences (8 images each): tokens/s and the MFU, i.e. the
/// useful FLOPs (<see cref="FlopEstimate"/>: recomputation under checkpointing is not useful work) per second over the
/// fp32 matmul rate measured in the same process with the same torch threads, before and after training (the best of
/// the two: the machine may be shared); where the time of a step goes (embedding and vision, decoder, LM head and loss,
/// backward, clipping, optimizer); peak resident memory growth with and without activation checkpointing (Linux
/// VmHWM, each configuration in its own process).
/// </summary>
public sealed class TrainingBenchmark : IBenchmark
{
    public string Name => "training";
    public string Description => "training step tokens/s, MFU vs fp32 matmul rate (same threads), step profile, peak memory with/without activation checkpointing";

    const string ChildVar = "OQVL_TRAINING_BENCH_CHILD";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        int layers = quick ? 4 : 14, seqLen = quick ? 256 : 1024, images = quick ? 2 : 8, steps = 3;
        if (Environment.GetEnvironmentVariable(ChildVar) is string child)
        {
            RunChild(child, layers, seqLen, images, steps, quick);
            return [];
        }
        int threads = get_num_threads();
        var rows = new List<BenchRow> { new("torch intra-op threads (matmul probe and training alike)", "setting", threads, "threads") };
        // Each configuration runs in a fresh process: the C allocator keeps freed memory, so a second run in
        // the same process would inherit the first one's heap and its peak RSS would mean nothing.
        var results = new Dictionary<bool, JsonNode>();
        foreach (bool ckpt in new[] { false, true })
            results[ckpt] = RunInChildProcess(ckpt, threads, quick);
        foreach (bool ckpt in new[] { false, true })
        {
            var r = results[ckpt];
            string w = $"{r["llm_params"]!.GetValue<double>() / 1e6:F0}M LM + frozen tiny SigLIP, {seqLen} tokens/seq, checkpointing {(ckpt ? "on" : "off")}";
            rows.Add(new BenchRow(w, "fp32 matmul rate (same process, best before/after)", r["matmul"]!.GetValue<double>() / 1e9, "GFLOP/s"));
            rows.Add(new BenchRow(w, "tokens/s", r["tokens_per_s"]!.GetValue<double>(), "tok/s"));
            rows.Add(new BenchRow(w, "useful FLOP/s", r["flops_per_s"]!.GetValue<double>() / 1e9, "GFLOP/s"));
            rows.Add(new BenchRow(w, "MFU", 100 * r["mfu"]!.GetValue<double>(), "%", "fp32 matmul rate"));
        }
        if (results[false]["profile"] is JsonObject profile)
        {
            // The same step, phase by phase, in wall and CPU seconds; its MFU from CPU time holds on a loaded machine too.
            var r = results[false];
            double flops = r["flops_per_step"]!.GetValue<double>(), matmulCpu = r["matmul_cpu"]!.GetValue<double>();
            double wallTotal = profile.Sum(kv => kv.Value![0]!.GetValue<double>()), cpuTotal = profile.Sum(kv => kv.Value![1]!.GetValue<double>());
            foreach (var (phase, t) in profile)
            {
                rows.Add(new BenchRow($"step profile, checkpointing off: {phase}", "wall s/step", t![0]!.GetValue<double>(), "s", "whole step", t[0]!.GetValue<double>() / wallTotal));
                rows.Add(new BenchRow($"step profile, checkpointing off: {phase}", "CPU s/step", t[1]!.GetValue<double>(), "s", "whole step", t[1]!.GetValue<double>() / cpuTotal));
            }
            rows.Add(new BenchRow("step profile: fp32 matmul rate per CPU second (same process)", "rate", matmulCpu / 1e9, "GFLOP/CPU-s"));
            rows.Add(new BenchRow("step profile: MFU from CPU time (useful FLOPs per CPU second over the matmul's)", "MFU", 100 * flops / cpuTotal / matmulCpu, "%", "fp32 matmul rate"));
            rows.Add(new BenchRow("step profile: the useful FLOPs at the matmul rate", "CPU s/step", flops / matmulCpu, "s", "whole step", flops / matmulCpu / cpuTotal));
        }
        double off = results[false]["peak_growth"]!.GetValue<double>(), on = results[true]["peak_growth"]!.GetValue<double>();
        rows.Add(new BenchRow("peak RSS growth over the loaded model, checkpointing off", "memory", off / 1048576.0, "MiB"));
        rows.Add(new BenchRow("peak RSS growth over the loaded model, checkpointing on", "memory", on / 1048576.0, "MiB", "checkpointing off", on / off));
        if (File.Exists("/proc/loadavg"))
            rows.Add(new BenchRow($"machine load during the run ({Environment.ProcessorCount} cores)", "1-min load average",
                double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture), ""));
        return rows;
    }

    static JsonNode RunInChildProcess(bool ckpt, int threads, bool quick)
    {
        var outFile = Path.Combine(Path.GetTempPath(), "oqvl-bench-train-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(TrainingBenchmark).Assembly.Location);
        psi.ArgumentList.Add("training");
        if (quick) psi.ArgumentList.Add("--quick");
        psi.Environment[ChildVar] = $"{(ckpt ? "on" : "off")};{threads};{outFile}";
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

    static void RunChild(string spec, int layers, int seqLen, int images, int steps, bool quick)
    {
        var parts = spec.Split(';');
        bool ckpt = parts[0] == "on";
        set_num_threads(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        const int probe = 1024;
        var matmulBefore = MeasureMatmulRate(probe);
        using var model = BuildModel(layers);
        var cfg = StageConfig.ForStage(Stage.Pretrain) with
        {
            MaxSteps = steps, GlobalBatchSequences = 1, MicroBatchSequences = 1, Precision = "fp32", LearningRate = 1e-4,
            ActivationCheckpointing = ckpt, LogEvery = 1, CheckpointEvery = 1_000_000, WarmupRatio = 0,
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
            m = MetricsLog.Read(Path.Combine(dir, "metrics.jsonl"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
        // Step time from the log's clock, step 0 (warm-up) left out; every step logs, so each line ends its step.
        double seconds = (m[^1].ElapsedSeconds - m[0].ElapsedSeconds) / (m.Count - 1);
        double flops = FlopEstimate.PerSequence(model.Shape, seqLen, images, visionTrains: false, llmTrains: true);
        var profile = ckpt ? null : ProfileSteps(model, source, cfg, steps: 2);
        var matmulAfter = MeasureMatmulRate(probe);
        double matmul = Math.Max(matmulBefore.Wall, matmulAfter.Wall), matmulCpu = Math.Max(matmulBefore.Cpu, matmulAfter.Cpu);
        File.WriteAllText(parts[2], new JsonObject
        {
            ["llm_params"] = model.Shape.LlmParameters,
            ["matmul"] = matmul,
            ["tokens_per_s"] = seqLen / seconds,
            ["flops_per_step"] = flops,
            ["flops_per_s"] = flops / seconds,
            ["mfu"] = flops / seconds / matmul,
            ["matmul_cpu"] = matmulCpu,
            ["peak_growth"] = peak - start,   // activations, gradients, optimizer state
            ["profile"] = profile,
        }.ToJsonString());
    }

    /// <summary>
    /// Seconds per phase of the trainer's step (the same calls, in the same order), averaged over a few steps after a
    /// warm-up. On the CPU every op runs synchronously, so a stopwatch around a phase measures it without sync points.
    /// </summary>
    static JsonObject ProfileSteps(VlmTrainableModel model, IBatchSource source, StageConfig cfg, int steps)
    {
        model.SetTrainable(cfg.TrainLlm, cfg.TrainProjector, cfg.TrainVision);
        using var masters = MasterWeights.Create(model, ScalarType.Float32, CPU);
        using var optimizer = new MaskedAdamW(masters.Entries.Select(e => (e.Key, e.Master, 0.1)), cfg.Beta1, cfg.Beta2, cfg.Epsilon);
        var phases = new[] { "embedding + vision + projector", "decoder forward", "LM head + loss", "backward", "gradient clipping", "optimizer (AdamW)", "zeroing gradients" };
        var wallTotals = new double[phases.Length];
        var cpuTotals = new double[phases.Length];
        var batch = source.Next();
        var process = Process.GetCurrentProcess();
        for (int step = -1; step < steps; step++)   // step -1 warms up
        {
            using var scope = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            process.Refresh();
            var cpuMark = process.TotalProcessorTime;
            var wallLap = new double[phases.Length];
            var cpuLap = new double[phases.Length];
            void Lap(int phase)
            {
                wallLap[phase] = sw.Elapsed.TotalSeconds;
                process.Refresh();
                cpuLap[phase] = (process.TotalProcessorTime - cpuMark).TotalSeconds;
                cpuMark = process.TotalProcessorTime;
                sw.Restart();
            }
            var inputs = model.Vlm.Embed(batch);
            Lap(0);
            var hidden = model.Vlm.Llm.HiddenStates(inputs.Embeds);
            Lap(1);
            var at = tensor(inputs.PredictingPositions);
            var selected = hidden.reshape(-1, hidden.shape[2]).index_select(0, at);
            var targets = inputs.Labels.reshape(-1).index_select(0, at.add(CachedScalars.One, CachedScalars.One));
            var loss = nn.functional.cross_entropy(model.Vlm.Llm.Head(selected), targets, reduction: nn.Reduction.Mean);
            Lap(2);
            loss.backward();
            Lap(3);
            var grads = masters.Grads();
            var (_, apply) = GradientClipping.ClipAndCheck(grads, cfg.GradClipNorm, loss.detach());
            Lap(4);
            optimizer.Step(grads, 1e-5, apply);
            Lap(5);
            masters.ZeroGrads();
            Lap(6);
            if (step < 0) continue;
            for (int k = 0; k < phases.Length; k++) { wallTotals[k] += wallLap[k] / steps; cpuTotals[k] += cpuLap[k] / steps; }
        }
        batch.Dispose();
        var result = new JsonObject();
        for (int k = 0; k < phases.Length; k++) result[phases[k]] = new JsonArray(wallTotals[k], cpuTotals[k]);
        return result;
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

    /// <summary>
    /// 2n³ FLOPs per n x n fp32 matmul, per wall second and per CPU second of this process (all its threads), each the
    /// best of 3 bursts of at least 0.3 CPU seconds (Linux counts CPU time in 10 ms ticks). On a shared machine the wall
    /// rate depends on what else runs; FLOPs per CPU second mostly do not.
    /// </summary>
    static (double Wall, double Cpu) MeasureMatmulRate(int n)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        a.matmul(b).Dispose();
        double bestWall = 0, bestCpu = 0;
        for (int burst = 0; burst < 3; burst++)
        {
            var (count, wall, cpu) = BenchTiming.Measure(() =>
            {
                var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                int k = 0;
                do { a.matmul(b).Dispose(); k++; } while ((Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds < 0.3);
                return k;
            });
            double flops = 2.0 * n * n * n * count;
            bestWall = Math.Max(bestWall, flops / wall);
            bestCpu = Math.Max(bestCpu, flops / cpu);
        }
        return (bestWall, bestCpu);
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
