using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Data;
using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Observability;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Demo;

/// <summary>
/// The demo's engine stages on the real engines: <see cref="PackPipeline"/> (as `oqvl pack`), the
/// <see cref="Trainer"/> (as `oqvl train --preset tiny`) for pre-training on the packed shards and SFT on the
/// LLaVA JSON, and <see cref="VisionLanguageModel.Generate"/> for the answers. The model is the tiny preset
/// with the tokenizer's vocabulary. Its vision tower is the demo's pre-trained SigLIP (<see cref="DemoVisionTower"/>), loaded as a
/// published SigLIP is and frozen, as in the recipe (<see cref="DemoOptions.SftTrainVision"/> unfreezes it for SFT); it is saved with each stage.
/// </summary>
public class DemoModelStages : IDemoModelStages
{
    public virtual PackedData? Pack(DemoOptions options, CurationResult curated, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = null;
        if (options.TokenizerPath is null) { notRun = new("pack", "no tokenizer.json given"); return null; }
        var tokenizer = BpeTokenizer.Load(options.TokenizerPath);
        string outDir = Path.Combine(workDir, "packed");
        var report = new PackPipeline(tokenizer, new PackOptions
        {
            Capacity = options.PackCapacity, VisualTokens = options.PretrainVisualTokens, Seed = options.Seed,
            ImageSize = options.ImageSize, PacksPerShard = 64, Threads = Math.Max(1, Environment.ProcessorCount),
        }).Run(ShardSpec.Expand(curated.KeptShardSpec), outDir);
        log($"  packed {report.Stats.Kept}/{report.Stats.Input} samples into {report.Packs} sequences of {options.PackCapacity} tokens " +
            $"({report.OutputShards.Count} shards), fill {100 * report.FillRatio:F1}%, {report.Seconds:F1} s");
        if (report.Packs == 0) { notRun = new("pack", "no sample could be packed (see work/packed/stats.json)"); return null; }
        string location = string.Join(",", report.OutputShards.Select(f => Path.Combine(outDir, f)));
        return new PackedData(location, (int)report.Packs, (int)report.Stats.Kept, options.PackCapacity, report.PackedTokens, report.FillRatio);
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
        var tokenizer = BpeTokenizer.Load(options.TokenizerPath!);
        var config = Config(Stage.Pretrain, options.PretrainSteps, options.BatchSequences, options.PretrainLearningRate, options.PretrainPoolSide,
            options.PackCapacity, trainVision: false, options.Seed);
        manual_seed(options.Seed);
        using var model = VlmTrainableModel.Tiny(tokenizer.VocabSize, options.Seed);
        // Loaded exactly as a published SigLIP is (the last block, post-layernorm and head are not read).
        VlmLoader.LoadVisionBackbone(model.Vlm.VisionBackbone, tower.WeightsPath, ScalarType.Float32, CPU);
        model.Vlm.Projector.PoolSide = config.VisualPoolSide;
        using var source = new BatchStreamSource(new LoaderBatchStream(packed.Location.Split(','), new PackedShardSource(),
            ImagePreprocessor.ResizeNaive(model.Vlm.Config.Vision.ImageSize),
            new LoaderOptions { BatchSize = config.MicroBatchSequences, Seed = options.Seed, PadId = PadId(tokenizer) }));
        return Train(model, source, config, Path.Combine(workDir, "pretrain"), $"shards:{packed.Location}", "new",
            $"demo SigLIP tower ({tower.WeightsPath}), frozen", options.Device, log);
    }

    public virtual TrainedModel? Sft(DemoOptions options, TrainedModel pretrained, SyntheticDatasetLayout data, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = null;
        var tokenizer = BpeTokenizer.Load(options.TokenizerPath!);
        var config = Config(Stage.Sft, options.SftSteps, options.SftBatchSequences, options.SftLearningRate, options.SftPoolSide,
            options.SftContextLength, options.SftTrainVision, options.Seed);
        // Low-to-high switch: the same projector weights, now over the full grid of patches.
        using var model = new VlmTrainableModel(LoadCheckpoint(pretrained.CheckpointDir, tokenizer.VocabSize, config.VisualPoolSide));
        // The same data path as `oqvl train --stage sft --data sft:JSON,IMAGE_ROOT`.
        string spec = $"sft:{data.SftJson},{data.SftImageRoot}";
        using var source = BatchSourceSpec.Open(spec, config.MicroBatchSequences, model.Vlm.Config.Vision.ImageSize, tokenizer.VocabSize,
            options.Seed, rank: 0, world: 1, options.TokenizerPath, model.VisualTokensPerImage, options.SftContextLength, config.GroupByImageCount);
        return Train(model, source, config, Path.Combine(workDir, "sft"), spec, Path.Combine(pretrained.CheckpointDir, "projector.safetensors"),
            $"{pretrained.CheckpointDir}/vision.safetensors, {(config.TrainVision ? "trained in this stage" : "frozen")}", options.Device, log);
    }

    public virtual IVqaAnswerGenerator? Generator(DemoOptions options, TrainedModel model, string name, out StageNotRun? notRun)
    {
        notRun = null;
        var tokenizer = BpeTokenizer.Load(options.TokenizerPath!);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(model.CheckpointDir, "hf", "manifest.json")))!;
        var vlm = LoadCheckpoint(model.CheckpointDir, tokenizer.VocabSize, (int)manifest["visual_pool_side"]!);
        vlm.to(torch.device(options.Device));
        vlm.eval();
        return new VlmAnswerGenerator(name, vlm, tokenizer, ImagePreprocessor.ResizeNaive(vlm.Config.Vision.ImageSize),
            prependBos: name == "pretrain");
    }

    /// <summary>The tiny preset's stage config: the stage's recipe defaults, then the demo's sizes (fp32, log every step).</summary>
    private static StageConfig Config(Stage stage, int steps, int batch, double lr, int poolSide, int sequenceLength, bool trainVision, int seed) =>
        StageConfig.Resolve(stage, null,
        [
            $"max_steps={steps}", $"learning_rate={lr}", $"global_batch_sequences={batch}", $"micro_batch_sequences={batch}",
            $"visual_pool_side={poolSide}", $"sequence_length={sequenceLength}", "precision=fp32", "activation_checkpointing=false",
            "log_every=1", $"checkpoint_every={steps}", "keep_last_checkpoints=1", $"seed={seed}", "warmup_ratio=0.05", "weight_decay=0.01",
            $"train_vision={(trainVision ? "true" : "false")}",
            // One-image records and three-image chats: grouped, a batch of one-image records is not padded to chat length.
            $"group_by_image_count={(stage == Stage.Sft ? 20 : 0)}",
        ]);

    private static TrainedModel Train(VlmTrainableModel model, IBatchSource source, StageConfig config, string runDir, string data, string projectorInit,
        string vision, string device, Action<string> log)
    {
        // A fresh run each time: the demo never resumes an older run's folder.
        if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
        var result = new Trainer(model, source, new TrainerOptions
        {
            Config = config, RunDirectory = runDir, SaveFrozenComponents = true, Device = torch.device(device),
            Provenance = new Dictionary<string, string> { ["vision"] = vision, ["data"] = data, ["projector_init"] = projectorInit },
            OnLog = lines =>
            {
                var m = lines[^1];
                if ((m.Step + 1) % 10 == 0 || m.Step + 1 == m.MaxSteps)
                {
                    double eta = m.ElapsedSeconds / (m.Step + 1) * (m.MaxSteps - m.Step - 1);
                    log($"  step {m.Step + 1}/{m.MaxSteps} loss {m.Loss:F4} {m.TokensPerSecond:F0} tok/s, {(m.Step + 1) / Math.Max(1e-9, m.ElapsedSeconds):F1} steps/s, ETA {eta:F0} s");
                }
            },
        }).Run();
        if (result.FinalDirectory is null) throw new TrainingException($"{runDir}: training ended without final weights");
        var metrics = MetricsLog.Read(Path.Combine(runDir, "metrics.jsonl"));
        log($"  loss {result.FirstLoss:F4} -> {result.LastLoss:F4} in {result.StepsCompleted} steps, {result.ElapsedSeconds:F1} s");
        return new TrainedModel(result.FinalDirectory, metrics.Select(m => m.Loss).ToList(),
            metrics.Count == 0 ? 0 : metrics.Average(m => m.TokensPerSecond), result.ElapsedSeconds, Path.Combine(runDir, "loss.png"));
    }

    /// <summary>A stage's final/ folder (llm, vision, projector safetensors in HF naming) into a tiny VLM.</summary>
    public static VisionLanguageModel LoadCheckpoint(string finalDir, int vocabSize, int poolSide)
    {
        var vlm = new VisionLanguageModel(VlmConfig.Tiny(vocabSize));
        OpenQwen2VL.Model.Checkpoints.CheckpointLoader.LoadInto(vlm.Llm, Path.Combine(finalDir, "llm.safetensors"), ScalarType.Float32, CPU);
        OpenQwen2VL.Model.Checkpoints.CheckpointLoader.LoadInto(vlm.VisionBackbone, Path.Combine(finalDir, "vision.safetensors"), ScalarType.Float32, CPU);
        OpenQwen2VL.Model.Checkpoints.CheckpointLoader.LoadInto(vlm.Projector, Path.Combine(finalDir, "projector.safetensors"), ScalarType.Float32, CPU);
        vlm.Projector.PoolSide = poolSide;
        return vlm;
    }

    private static int PadId(ITextTokenizer tokenizer) => tokenizer.TokenToId("<|endoftext|>") ?? 0;
}
