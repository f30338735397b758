using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Distributed;
using OpenQwen2VL.Training.Observability;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Data-parallel training over MPI on this machine: tokens/s of the same job (global batch 4 sequences, micro-batch 1)
/// on 1 and 2 ranks started by mpiexec, one libtorch thread per rank; the gradient all-reduce time per step; a 25 MB
/// fp32 all-reduce on its own (the shared note measured 18.4 ms through MPI.NET); AdamW state per rank with and without
/// ZeRO-1. Needs MPICH (apt-get install mpich).
/// </summary>
public sealed class DataParallelBenchmark : IBenchmark
{
    public string Name => "data-parallel";
    public string Description => "1 vs 2 MPI ranks: training tokens/s, all-reduce time per step, 25 MB all-reduce, optimizer state per rank with/without ZeRO-1";

    const string ChildVar = "OQVL_DP_BENCH_CHILD";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        int layers = quick ? 2 : 4, seqLen = quick ? 128 : 256, steps = quick ? 3 : 5;
        if (Environment.GetEnvironmentVariable(ChildVar) is string outFile)
        {
            RunRank(outFile, layers, seqLen, steps);
            return [];
        }
        var one = Launch(1, quick);
        var two = Launch(2, quick);
        string w = $"{one["llm_params"]!.GetValue<double>() / 1e6:F1}M LM, {seqLen} tokens/seq, global batch 4, 1 torch thread per rank";
        double t1 = one["tokens_per_s"]!.GetValue<double>(), t2 = two["tokens_per_s"]!.GetValue<double>();
        return
        [
            new(w + ", 1 rank", "tokens/s", t1, "tok/s"),
            new(w + ", 2 ranks", "tokens/s", t2, "tok/s", "1 rank", t2 / t1),
            new("2 ranks: gradient all-reduce + ZeRO-1 all-gather per step (rank 0)", "time", two["comm_ms_per_step"]!.GetValue<double>(), "ms"),
            new("2 ranks: one 25 MB fp32 all-reduce (shared memory, P/Invoke on host buckets)", "time", two["allreduce_25mb_ms"]!.GetValue<double>(), "ms", "MPI.NET 18.4 ms (shared note)", two["allreduce_25mb_ms"]!.GetValue<double>() / 18.4),
            new("AdamW state per rank, zero_stage 0 (any N)", "memory", two["state_unsharded"]!.GetValue<double>() / 1048576.0, "MiB"),
            new("AdamW state per rank, zero_stage 1, 2 ranks", "memory", two["state_sharded"]!.GetValue<double>() / 1048576.0, "MiB", "zero_stage 0",
                two["state_sharded"]!.GetValue<double>() / two["state_unsharded"]!.GetValue<double>()),
        ];
    }

    static JsonNode Launch(int ranks, bool quick)
    {
        var outFile = Path.Combine(Path.GetTempPath(), "oqvl-bench-dp-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        var psi = new ProcessStartInfo("mpiexec.mpich") { UseShellExecute = false, RedirectStandardOutput = true };
        psi.ArgumentList.Add("-n");
        psi.ArgumentList.Add(ranks.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(Environment.ProcessPath!);
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(DataParallelBenchmark).Assembly.Location);
        psi.ArgumentList.Add("data-parallel");
        if (quick) psi.ArgumentList.Add("--quick");
        psi.Environment[ChildVar] = outFile;
        try
        {
            using var p = Process.Start(psi)!;
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0 || !File.Exists(outFile)) throw new InvalidOperationException($"data-parallel benchmark on {ranks} rank(s) failed with exit code {p.ExitCode}");
            return JsonNode.Parse(File.ReadAllText(outFile))!;
        }
        finally { File.Delete(outFile); }
    }

    static void RunRank(string outFile, int layers, int seqLen, int steps)
    {
        set_num_threads(1);
        using var mpi = MpiCollective.Join();
        double allreduce = AllReduceMs(mpi);
        using var model = TrainingBenchmark.BuildModel(layers);
        var cfg = StageConfig.ForStage(Stage.Pretrain) with
        {
            MaxSteps = steps, GlobalBatchSequences = 4, MicroBatchSequences = 1, Precision = "fp32", LearningRate = 1e-4,
            ActivationCheckpointing = false, LogEvery = 1, CheckpointEvery = 1_000_000, WarmupRatio = 0,
        };
        // One run folder for all ranks (rank 0 writes into it): rank 0's name.
        var dir = mpi.AllGatherText(Path.Combine(Path.GetTempPath(), "oqvl-bench-dp-" + Guid.NewGuid().ToString("N")[..8]))[0];
        using var source = new TrainingBenchmark.RepeatedPackedBatch(seqLen, 2, model);
        List<StepMetrics> m;
        TrainingResult result;
        try
        {
            result = new Trainer(model, source, new TrainerOptions { Config = cfg, RunDirectory = dir, Collective = mpi.WorldSize > 1 ? mpi : new SingleProcessCollective() }).Run();
            m = mpi.Rank == 0 ? MetricsLog.Read(Path.Combine(dir, "metrics.jsonl")).Skip(1).ToList() : [];   // step 0 is warm-up
            mpi.Barrier();
        }
        finally
        {
            if (mpi.Rank == 0 && Directory.Exists(dir)) Directory.Delete(dir, true);
        }
        if (mpi.Rank != 0) return;
        var counts = model.Parameters().Where(p => p.Parameter.requires_grad).Select(p => p.Parameter.numel()).ToList();
        long unsharded = counts.Sum() * 2 * sizeof(float);
        long sharded = new ZeroPartition(counts, mpi.WorldSize).ShardLength * 2 * sizeof(float);
        File.WriteAllText(outFile, new JsonObject
        {
            ["llm_params"] = model.Shape.LlmParameters,
            ["tokens_per_s"] = m.Average(x => x.TokensPerSecond),
            ["comm_ms_per_step"] = 1000 * result.CommunicationSeconds / steps,
            ["allreduce_25mb_ms"] = allreduce,
            ["state_unsharded"] = unsharded,
            ["state_sharded"] = sharded,
        }.ToJsonString());
    }

    /// <summary>Mean of 5 all-reduces of a 25 MB fp32 tensor after one warm-up (0 on one rank).</summary>
    static double AllReduceMs(MpiCollective mpi)
    {
        if (mpi.WorldSize == 1) return 0;
        using var t = ones(25L * 1024 * 1024 / 4);
        mpi.AllReduceSum([t]);
        mpi.Barrier();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 5; i++) mpi.AllReduceSum([t]);
        return sw.Elapsed.TotalMilliseconds / 5;
    }
}
