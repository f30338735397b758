using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Data;
using OpenQwen2VL.Training.Distributed;
using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Observability;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Jobs;

/// <summary>One stage as <c>oqvl train</c> runs it (and the demo, through the same code).</summary>
public sealed record TrainingJobOptions
{
    public required Stage Stage { get; init; }
    /// <summary>`--data`: see <see cref="TrainingData.Resolve"/>.</summary>
    public required string Data { get; init; }
    public required string RunDirectory { get; init; }
    /// <summary>A built-in preset (sized from the data's tokenizer), or null to load <see cref="Model"/>.</summary>
    public ModelPreset? Preset { get; init; }
    /// <summary>The initial weights: <c>--model</c> and/or <c>--llm/--vision/--projector</c>.</summary>
    public ModelRequest? Model { get; init; }
    /// <summary>tokenizer.json for a preset when the data carries none.</summary>
    public string? Tokenizer { get; init; }
    public string? ConfigFile { get; init; }
    /// <summary>`key=value` overrides of the stage config (<see cref="StageConfig.Resolve"/>).</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];
    public Device Device { get; init; } = CPU;
    public int? StopAt { get; init; }
    public bool Resume { get; init; }
    /// <summary>SFT data may name images outside its image root (<see cref="SftReadOptions.AllowImagesOutsideRoot"/>).</summary>
    public bool AllowImagesOutsideRoot { get; init; }
    /// <summary>What the data loader's decoder accepts, and its budget of decode buffers in flight (<c>--decode-budget-mib</c>).</summary>
    public ImageLimits ImageLimits { get; init; } = ImageLimits.Default;
    public CancellationToken Cancellation { get; init; }
    public Action<IReadOnlyList<StepMetrics>>? OnLog { get; init; }
    /// <summary>This process's place in a multi-process job (<see cref="MpiCollective"/>); one process by default.</summary>
    public ICollective Collective { get; init; } = new SingleProcessCollective();
    /// <summary>Plan and load reports, one line each.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// Runs one training stage end to end: resolves the data and the model source, resolves the stage config, checks the
/// data against the model before any compute (<see cref="StageChecks"/>), builds the model through the one loader
/// (<see cref="VlmLoader"/>), writes the run's manifest, trains, and exports final/ as a self-describing model folder.
/// </summary>
public static class TrainingJob
{
    /// <summary>A preset's own training defaults (under a config file and --set): CPU-sized batches, a demo learning rate.</summary>
    public static IReadOnlyList<string> PresetDefaults(ModelPreset preset, Stage stage) => preset switch
    {
        ModelPreset.Tiny =>
        [
            "global_batch_sequences=8", "micro_batch_sequences=4", "learning_rate=0.002", "log_every=1", "checkpoint_every=10", "max_steps=40",
            // 4x4 pooling of the 8x8 grid in pre-training; SFT sees the full grid (the stage default).
            .. stage == Stage.Pretrain ? new[] { "visual_tokens=16" } : [],
        ],
        _ => [],
    };

    public static TrainingResult Run(TrainingJobOptions o)
    {
        var log = o.Log ?? (_ => { });
        var data = TrainingData.Resolve(o.Data, o.Stage);
        var (source, preset) = ResolveModel(o, data);
        var cfg = ResolveConfig(o, preset);

        // Check the data against the model before any compute.
        var tokenizer = MultimodalTokens.LoadTokenizer(source.TokenizerPath);
        int tokens = cfg.VisualTokens ?? source.VisionConfig.NumPatches;
        VlmLoader.PoolSide(tokens, source.VisionConfig, source.Description);
        StageChecks.VisualTokens(data, tokens, source.VisionConfig.GridSide);
        StageChecks.Tokenizer(data, TokenizerFacts.Of(tokenizer), source.TokenizerPath);
        StageChecks.Vocabulary(data, Math.Max(source.LlmConfig.VocabSize, tokenizer.VocabSize));
        StageChecks.ImageSize(data, source.VisionConfig.ImageSize);
        StageChecks.ContextLength(data, cfg.SequenceLength, source.LlmConfig.MaxPositionEmbeddings);
        CheckRunFolder(o, data, tokenizer, tokens, cfg);
        var collective = o.Collective;
        int world = collective.WorldSize;
        int accumulation;
        try { accumulation = cfg.AccumulationSteps(world); }
        catch (ArgumentException e) { throw new StageContractException($"{e.Message}: the global batch is the same for any number of ranks, so it must split evenly over them"); }
        if (collective is MpiCollective mpi)
        {
            mpi.Timeout = TimeSpan.FromSeconds(cfg.CollectiveTimeoutS);
            mpi.BucketBytes = (long)cfg.BucketMb << 20;
        }
        // Every rank has checked the run folder before rank 0 writes into it.
        collective.Barrier();
        log($"data: {data.Description}");
        log($"model: {source.Description}; {VisualFacts.DescribeTokens(tokens)}");

        var loaded = VlmLoader.Load(source, new VlmLoadSettings { VisualTokens = tokens, Seed = cfg.Seed });
        // The trainable wrapper owns (and disposes) the network from here.
        using var model = new VlmTrainableModel(loaded.Model);
        foreach (var report in loaded.Reports) log($"loaded {report}");
        if (source.ProjectorWeights is null && !source.IsPreset) log("projector: new (first stage from the base models)");
        long rows = OpenQwen2VL.Model.Qwen2.TokenEmbeddingResize.Rows(loaded.Model.Llm);
        int padId = tokenizer.TokenToId("<|endoftext|>") ?? 0;
        IBatchSource batches;
        try
        {
            batches = data.Open(new TrainingDataOpenOptions
            {
                MicroBatch = cfg.MicroBatchSequences, Preprocessor = loaded.Preprocessor, Tokenizer = loaded.Tokenizer,
                VisualTokensPerImage = tokens, SequenceLength = cfg.SequenceLength, Seed = (int)cfg.Seed, PadId = padId,
                // Ranks take turns on the one-process stream, a turn being a rank's micro-batches of one step: every
                // global batch holds the same sequences for any number of ranks.
                Rank = collective.Rank, World = world, BatchesPerTurn = world > 1 ? accumulation : 0,
                GroupByImageCount = cfg.GroupByImageCount, PackSft = cfg.SftPacking, AllowImagesOutsideRoot = o.AllowImagesOutsideRoot, ImageLimits = o.ImageLimits,
            });
        }
        catch (ArgumentException e) { throw new StageContractException($"--data {o.Data}: {e.Message}"); }
        using var _ = batches;

        string run = o.RunDirectory;
        var runManifest = RunManifest(data, source, preset, cfg, tokenizer, tokens, rows, loaded);
        if (collective.Rank == 0)
        {
            Directory.CreateDirectory(run);
            File.Copy(source.TokenizerPath, Path.Combine(run, RunLayout.Tokenizer), overwrite: true);
            runManifest.Write(run);
        }

        var finalManifest = new StageManifest
        {
            Kind = StageKinds.Model, Inputs = [new ManifestInput(StageKinds.Run, Path.GetFullPath(run))],
            Tokenizer = runManifest.Tokenizer, Visual = runManifest.Visual, PromptFormat = runManifest.PromptFormat, ContextLength = cfg.SequenceLength,
            Files = new() { ["llm"] = RunLayout.ModelLlm, ["vision"] = RunLayout.ModelVision, ["projector"] = RunLayout.ModelProjector, ["tokenizer"] = $"{RunLayout.ModelLlm}/tokenizer.json" },
            Model = new JsonObject
            {
                ["stage"] = Name(cfg.Stage), ["steps"] = cfg.MaxSteps, ["vision_trained"] = cfg.TrainVision,
                ["preset"] = preset is { } p ? Name(p) : null,
            },
        };
        return new Trainer(model, batches, new TrainerOptions
        {
            Config = cfg, RunDirectory = run, Device = o.Device, StopAt = o.StopAt, Resume = o.Resume,
            // A preset's fresh tower cannot be rebuilt from a source: checkpoints keep it.
            SaveFrozenComponents = source.VisionWeights is null, Cancellation = o.Cancellation, OnLog = o.OnLog, Warn = log, Log = log, Collective = collective,
            WriteModelFiles = dir => ModelExport.WriteSideFiles(dir, source.LlmConfig, rows, source.VisionConfig, loaded.Preprocessor,
                source.TokenizerPath, source.TokenizerSideFilesDirectory, finalManifest),
        }).Run();
    }

    /// <summary>
    /// A new run needs a folder without checkpoints; a resumed one must continue the same data, tokenizer and visual
    /// tokens it was started with (its manifest says which), or its loader position and weights would not mean anything.
    /// </summary>
    static void CheckRunFolder(TrainingJobOptions o, TrainingData data, OpenQwen2VL.Data.Tokenization.ITextTokenizer tokenizer, int tokens, StageConfig cfg)
    {
        string run = o.RunDirectory;
        bool hasCheckpoints = RunLayout.ListCheckpoints(Path.Combine(run, RunLayout.Checkpoints)).Count > 0;
        if (!o.Resume)
        {
            if (hasCheckpoints) throw new StageContractException($"{run} already has checkpoints: pass --resume to continue it, or choose a new --out");
            return;
        }
        if (!hasCheckpoints) throw new StageContractException($"--resume: {run} has no checkpoint to resume from");
        // Packing changes what the loader's saved position counts (packs, not conversations).
        if (SavedSftPacking(run) is bool packedBefore && packedBefore != cfg.SftPacking)
            throw new StageContractException($"--resume: {run} was trained with sft_packing {packedBefore.ToString().ToLowerInvariant()}: resume with the same setting, or start a new --out");
        if (!StageManifest.Exists(run)) return;   // a run from before manifests: the trainer's own checks apply
        var before = StageManifest.Read(run).RequireKind("--resume", StageKinds.Run);
        string? dataBefore = before.Inputs.FirstOrDefault()?.Path;
        if (dataBefore is not null && dataBefore != data.AsInput().Path)
            throw new StageContractException($"--resume: {run} was trained on {dataBefore}, not {data.AsInput().Path}: resume with the same --data, or start a new --out");
        if (before.Tokenizer is { } t && t.Fingerprint != tokenizer.Fingerprint)
            throw new StageContractException($"--resume: {run} was trained with tokenizer {t.Describe()}, this model's is {TokenizerFacts.Of(tokenizer).Describe()}");
        if (before.Visual is { } v && v.TokensPerImage != tokens)
            throw new StageContractException($"--resume: {run} was trained with {v.DescribeTokens()}, not {tokens}: resume with the same --visual-tokens");
    }

    /// <summary>The sft_packing of the run's config.json (absent: false, a run from before the setting); null without a readable one.</summary>
    static bool? SavedSftPacking(string run)
    {
        string path = Path.Combine(run, RunLayout.Config);
        if (!File.Exists(path)) return null;
        try
        {
            var node = JsonNode.Parse(BoundedFile.ReadAllText(path, BoundedFile.SmallJsonMaxBytes, "a stage config"));
            return node?["sft_packing"]?.GetValue<bool>() ?? false;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException) { return null; }
    }

    static (ModelSource, ModelPreset?) ResolveModel(TrainingJobOptions o, TrainingData data)
    {
        if (o.Preset is { } preset)
        {
            if (o.Model is { } parts && (parts.Model ?? parts.Llm ?? parts.Projector) is not null)
                throw new StageContractException("--preset does not combine with --model, --llm or --projector (it may take --vision: a published SigLIP under the preset's LLM)");
            string tokenizer = o.Tokenizer ?? data.TokenizerPath
                ?? throw new StageContractException($"--preset {Name(preset)} is sized from the data's tokenizer, but {data.Description} names none: pass --tokenizer FILE");
            if (!File.Exists(tokenizer)) throw new StageContractException($"--tokenizer: file not found: {tokenizer}");
            var presetSource = ModelPresets.Source(preset, tokenizer);
            return (o.Model?.Vision is { } vision ? ModelSourceResolver.WithVision(presetSource, vision) : presetSource, preset);
        }
        if (o.Model is null) throw new StageContractException("no model: pass --preset tiny, --model SOURCE (a model or run folder, a released .pt), or --llm DIR --vision DIR");
        var source = ModelSourceResolver.Resolve(o.Model with { Tokenizer = o.Model.Tokenizer ?? o.Tokenizer, Warn = o.Model.Warn ?? o.Log }, requireProjector: false);
        // A model trained from a preset keeps the preset's training defaults in its later stages.
        var fromPreset = source.Manifest?.Model?["preset"]?.GetValue<string>() is { } name && Enum.TryParse<ModelPreset>(name, ignoreCase: true, out var p) ? p : (ModelPreset?)null;
        return (source, fromPreset);
    }

    static StageConfig ResolveConfig(TrainingJobOptions o, ModelPreset? preset)
    {
        if (o.ConfigFile is { } f && !File.Exists(f)) throw new StageContractException($"--config: file not found: {f}");
        try { return StageConfig.Resolve(o.Stage, o.ConfigFile, o.Overrides, preset is { } p ? PresetDefaults(p, o.Stage) : null); }
        catch (ArgumentException e) { throw new StageContractException(e.Message); }
        catch (System.Text.Json.JsonException e) { throw new StageContractException($"--config {o.ConfigFile}: not JSON ({e.Message.Split('\n')[0]})"); }
    }

    static StageManifest RunManifest(TrainingData data, ModelSource source, ModelPreset? preset, StageConfig cfg,
        OpenQwen2VL.Data.Tokenization.ITextTokenizer tokenizer, int tokens, long embeddingRows, LoadedVlm loaded)
    {
        JsonNode? visionWeights = source.VisionWeights is { } vw
            ? new JsonObject { ["path"] = Path.GetFullPath(vw.Path), ["format"] = vw.Format.ToString().ToLowerInvariant() }
            : null;
        return new StageManifest
        {
            Kind = StageKinds.Run,
            Inputs = [data.AsInput(), source.AsInput()],
            Tokenizer = TokenizerFacts.Of(tokenizer),
            Visual = ModelExport.Visual(tokens, loaded.Preprocessor),
            PromptFormat = cfg.Stage == Stage.Sft ? PromptFormats.ChatMl : PromptFormats.Plain,
            ContextLength = cfg.SequenceLength,
            Files = new() { ["tokenizer"] = RunLayout.Tokenizer, ["config"] = RunLayout.Config, ["metrics"] = RunLayout.Metrics },
            Model = new JsonObject
            {
                ["stage"] = Name(cfg.Stage),
                ["preset"] = preset is { } p ? Name(p) : null,
                // The checkpoints hold as many embedding rows as the model has (grown to the tokenizer where needed).
                ["llm_config"] = JsonNode.Parse((source.LlmConfig with { VocabSize = checked((int)embeddingRows) }).ToJson()),
                ["vision_config"] = JsonNode.Parse(source.VisionConfig.ToJson()),
                // Frozen towers are not in the checkpoints: a run without final/ loads the tower from here.
                ["vision_weights"] = cfg.TrainVision ? null : visionWeights,
            },
        };
    }

    static string Name<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}
