using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Jobs;
using OpenQwen2VL.Training.Observability;

namespace OpenQwen2VL.Demo;

/// <summary>
/// The demo's engine stages, each the code path of the command a user would run: <see cref="PackPipeline"/> (as
/// <c>oqvl pack --input curated/</c>), <see cref="TrainingJob"/> (as <c>oqvl train --preset tiny --vision vision/ --data
/// packed/</c>, then <c>oqvl train --stage sft --model runs/pretrain --data synth/</c>) and the one model loader for the
/// answers (as <c>oqvl evaluate --model runs/sft</c>). The model is the tiny preset sized from the tokenizer; its vision
/// tower is the demo's pre-trained SigLIP (<see cref="DemoVisionTower"/>), taken as a published SigLIP is and frozen,
/// as in the recipe (<see cref="DemoOptions.SftTrainVision"/> unfreezes it for SFT).
/// </summary>
public class DemoModelStages : IDemoModelStages
{
    public virtual PackedData? Pack(DemoOptions options, CurationResult curated, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = null;
        if (options.TokenizerPath is null) { notRun = new("pack", "no tokenizer.json given"); return null; }
        var tokenizer = MultimodalTokens.LoadTokenizer(options.TokenizerPath);
        string curatedDir = Path.GetDirectoryName(curated.StatsJson)!;
        var input = ShardInputs.Resolve(curatedDir, "pack --input");
        string outDir = Path.Combine(workDir, "packed");
        var report = new PackPipeline(tokenizer, new PackOptions
        {
            Capacity = options.PackCapacity, VisualTokens = options.PretrainVisualTokens, Seed = options.Seed,
            ImageSize = options.ImageSize, PacksPerShard = 64, Threads = Math.Max(1, Environment.ProcessorCount),
            TokenizerPath = options.TokenizerPath, Inputs = input.Lineage,
        }).Run(input.Paths, outDir);
        log($"  packed {report.Stats.Kept}/{report.Stats.Input} samples into {report.Packs} sequences of {options.PackCapacity} tokens " +
            $"({report.OutputShards.Count} shards), fill {100 * report.FillRatio:F1}%, {report.Seconds:F1} s");
        if (report.Packs == 0) { notRun = new("pack", "no sample could be packed (see work/packed/stats.json)"); return null; }
        return new PackedData(outDir, (int)report.Packs, (int)report.Stats.Kept, options.PackCapacity, report.PackedTokens, report.FillRatio);
    }

    public virtual PretrainedVisionTower? VisionTower(DemoOptions options, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = null;
        if (options.TokenizerPath is null) { notRun = new("vision", "no tokenizer.json given"); return null; }
        return DemoVisionTower.Train(options, workDir, log);
    }

    public virtual TrainedModel? Pretrain(DemoOptions options, PackedData packed, PretrainedVisionTower tower, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = null;
        return Train(new TrainingJobOptions
        {
            Stage = Stage.Pretrain, Data = packed.Location, RunDirectory = Path.Combine(workDir, "pretrain"),
            Preset = ModelPreset.Tiny, Model = new ModelRequest { Vision = tower.Folder },
            Overrides = Overrides(Stage.Pretrain, options.PretrainSteps, options.BatchSequences, options.PretrainLearningRate, options.PretrainVisualTokens,
                options.PackCapacity, trainVision: false, options.Seed),
        }, options, log);
    }

    public virtual TrainedModel? Sft(DemoOptions options, TrainedModel pretrained, SyntheticDatasetLayout data, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = null;
        // The low-to-high switch: the pre-trained projector, now over the full grid of patches (SFT's default).
        return Train(new TrainingJobOptions
        {
            Stage = Stage.Sft, Data = data.Root, RunDirectory = Path.Combine(workDir, "sft"),
            Model = new ModelRequest { Model = pretrained.RunDir },
            Overrides = Overrides(Stage.Sft, options.SftSteps, options.SftBatchSequences, options.SftLearningRate, visualTokens: null,
                options.SftContextLength, options.SftTrainVision, options.Seed),
        }, options, log);
    }

    public virtual IVqaAnswerGenerator? Generator(DemoOptions options, TrainedModel model, string name, out StageNotRun? notRun)
    {
        notRun = null;
        var loaded = VlmLoader.Load(ModelSourceResolver.Resolve(new ModelRequest { Model = model.RunDir }),
            new VlmLoadSettings { Device = TorchSharp.torch.device(options.Device) });
        // Plain prompts (<s> first) for the pre-trained model, ChatML for the SFT model: the format each was trained with.
        return new VlmAnswerGenerator(name, loaded.Model, loaded.Tokenizer, loaded.Preprocessor, prependBos: loaded.Source.PromptFormat == PromptFormats.Plain);
    }

    /// <summary>The demo's sizes over the tiny preset's defaults (fp32, log every step, one checkpoint at the end).</summary>
    private static IReadOnlyList<string> Overrides(Stage stage, int steps, int batch, double lr, int? visualTokens, int sequenceLength, bool trainVision, int seed) =>
    [
        $"max_steps={steps}", $"learning_rate={lr}", $"global_batch_sequences={batch}", $"micro_batch_sequences={batch}",
        $"visual_tokens={(visualTokens is int n ? n : "null")}", $"sequence_length={sequenceLength}", "precision=fp32", "activation_checkpointing=false",
        "log_every=1", $"checkpoint_every={steps}", "keep_last_checkpoints=1", $"seed={seed}", "warmup_ratio=0.05", "weight_decay=0.01",
        $"train_vision={(trainVision ? "true" : "false")}",
        // One-image records and three-image chats: grouped, a batch of one-image records is not padded to chat length.
        $"group_by_image_count={(stage == Stage.Sft ? 20 : 0)}",
    ];

    private static TrainedModel Train(TrainingJobOptions job, DemoOptions options, Action<string> log)
    {
        // A fresh run each time: the demo never resumes an older run's folder.
        if (Directory.Exists(job.RunDirectory)) Directory.Delete(job.RunDirectory, recursive: true);
        var result = TrainingJob.Run(job with
        {
            Device = TorchSharp.torch.device(options.Device), Tokenizer = options.TokenizerPath,
            Log = line => log("  " + line),
            OnLog = lines =>
            {
                var m = lines[^1];
                if ((m.Step + 1) % 10 == 0 || m.Step + 1 == m.MaxSteps)
                {
                    double eta = m.ElapsedSeconds / (m.Step + 1) * (m.MaxSteps - m.Step - 1);
                    log($"  step {m.Step + 1}/{m.MaxSteps} loss {m.Loss:F4} {m.TokensPerSecond:F0} tok/s, {(m.Step + 1) / Math.Max(1e-9, m.ElapsedSeconds):F1} steps/s, ETA {eta:F0} s");
                }
            },
        });
        if (result.FinalDirectory is null) throw new TrainingException($"{job.RunDirectory}: training ended without final weights");
        var metrics = MetricsLog.Read(Path.Combine(job.RunDirectory, RunLayout.Metrics));
        log($"  loss {result.FirstLoss:F4} -> {result.LastLoss:F4} in {result.StepsCompleted} steps, {result.ElapsedSeconds:F1} s");
        return new TrainedModel(job.RunDirectory, metrics.Select(m => m.Loss).ToList(),
            metrics.Count == 0 ? 0 : metrics.Average(m => m.TokensPerSecond), result.ElapsedSeconds, Path.Combine(job.RunDirectory, "loss.png"));
    }
}
