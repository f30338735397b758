using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Checkpoints;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>What the user named as a model: <c>--model SOURCE</c> and/or explicit parts.</summary>
public sealed record ModelRequest
{
    /// <summary>An exported model folder (a run's final/), a run folder, a released Open-Qwen2VL <c>.pt</c> or its reference run folder.</summary>
    public string? Model { get; init; }
    /// <summary>HF Qwen2/Qwen2.5 folder (config.json, weights, tokenizer.json).</summary>
    public string? Llm { get; init; }
    /// <summary>HF SigLIP folder (SiglipModel or SiglipVisionModel).</summary>
    public string? Vision { get; init; }
    /// <summary>Projector safetensors (mlp_projector.0/2).</summary>
    public string? Projector { get; init; }
    /// <summary>tokenizer.json overriding the model's own.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Warnings, one line each (a damaged checkpoint of a run folder skipped); null drops them.</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>
/// Turns what the user named into a <see cref="ModelSource"/>, reading only configs and manifests (no weights), so a
/// wrong folder is a one-line <see cref="StageContractException"/> before any compute. Sources:
/// <list type="bullet">
/// <item>an exported model folder (<c>manifest.json</c> kind "model", e.g. a run's <c>final/</c>);</item>
/// <item>a run folder (kind "run"): its <c>final/</c> when complete, else its newest usable checkpoint (a damaged newer
/// one is skipped with a warning, as <c>train --resume</c> does);</item>
/// <item>a released Open-Qwen2VL checkpoint: the <c>.pt</c> itself or the reference run folder holding
/// <c>checkpoints/latest-checkpoint.pt</c>; it holds weights only, so <c>--llm</c> gives the Qwen2.5 config and
/// tokenizer, and <c>--vision</c> the SigLIP (unless the checkpoint's <c>vision_backbone</c> entry holds the tower);</item>
/// <item>explicit parts: <c>--llm DIR --vision DIR [--projector FILE]</c>.</item>
/// </list>
/// </summary>
public static class ModelSourceResolver
{
    /// <param name="requireProjector">false where a new projector is fine (the first pre-training stage)</param>
    public static ModelSource Resolve(ModelRequest r, bool requireProjector = true)
    {
        if (r.Tokenizer is { } tok && !File.Exists(tok)) throw new StageContractException($"--tokenizer: file not found: {tok}");
        if (r.Model is null)
        {
            if (r.Llm is null || r.Vision is null)
                throw new StageContractException("no model given: pass --model SOURCE (a model or run folder, or a released .pt), or --llm DIR with --vision DIR");
            return FromParts(r, requireProjector);
        }
        string model = r.Model;
        if (Directory.Exists(model))
        {
            if (StageManifest.Exists(model))
            {
                RejectParts(r, model);
                var m = StageManifest.Read(model);
                return m.Kind switch
                {
                    StageKinds.Model => FromModelFolder(m, r.Tokenizer, $"model {model}"),
                    StageKinds.Run => FromRun(m, r.Tokenizer, r.Warn ?? (_ => { })),
                    _ => throw new StageContractException($"{model} is {StageManifest.Describe(m.Kind)}, not a model: give a model folder (a run's final/), a run folder or a released .pt"),
                };
            }
            if (PrismaticCheckpoint.FindIn(model) is { } pt) return FromPrismatic(pt, r, model);
            if (LlavaQwenConfig.IsLlavaQwen(model)) return FromLlava(model, r);
            if (LooksLikeHfLlm(model))
                throw new StageContractException($"{model} is an HF language model folder, not a VLM: pass it as --llm {model} with --vision SIGLIP_DIR");
            throw new StageContractException($"{model} is not a model: expected a model folder (manifest.json of kind model, e.g. a run's final/), a run folder, or a released Open-Qwen2VL checkpoint (.pt)");
        }
        if (File.Exists(model))
        {
            if (model.EndsWith(".pt", StringComparison.OrdinalIgnoreCase) || model.EndsWith(".pth", StringComparison.OrdinalIgnoreCase))
                return FromPrismatic(model, r, Path.GetDirectoryName(Path.GetFullPath(model))!);
            throw new StageContractException($"{model} is a file but not a released checkpoint (.pt): give a model folder, a run folder or a .pt");
        }
        throw new StageContractException($"--model: not found: {model}");
    }

    /// <summary>A source with its vision tower replaced by an HF SigLIP folder (e.g. a preset's LLM with a published SigLIP).</summary>
    public static ModelSource WithVision(ModelSource source, string visionFolder)
    {
        var (vision, preprocessor) = ReadVisionFolder(visionFolder, "--vision");
        return source with
        {
            Description = $"{source.Description} with the vision tower of {visionFolder}",
            VisionConfig = vision, VisionWeights = new WeightsRef(visionFolder, WeightsFormat.Safetensors), Preprocessor = preprocessor,
        };
    }

    static void RejectParts(ModelRequest r, string model)
    {
        var given = new[] { ("--llm", r.Llm), ("--vision", r.Vision), ("--projector", r.Projector) }.Where(p => p.Item2 is not null).Select(p => p.Item1).ToList();
        if (given.Count > 0)
            throw new StageContractException($"{string.Join(", ", given)} do not combine with --model {model} (it holds every part): give one or the other");
    }

    static ModelSource FromParts(ModelRequest r, bool requireProjector)
    {
        var llm = ReadLlmConfig(r.Llm!, "--llm");
        var (vision, preprocessor) = ReadVisionFolder(r.Vision!, "--vision");
        if (r.Projector is { } p && !File.Exists(p)) throw new StageContractException($"--projector: file not found: {p}");
        if (requireProjector && r.Projector is null)
            throw new StageContractException("--llm and --vision need --projector FILE (the projector of a trained model), or use --model with a trained model");
        return new ModelSource
        {
            Description = $"--llm {r.Llm} --vision {r.Vision}" + (r.Projector is null ? "" : $" --projector {r.Projector}"),
            LlmConfig = llm, LlmWeights = new WeightsRef(r.Llm!, WeightsFormat.Safetensors),
            VisionConfig = vision, VisionWeights = new WeightsRef(r.Vision!, WeightsFormat.Safetensors),
            ProjectorWeights = r.Projector is null ? null : new WeightsRef(r.Projector, WeightsFormat.Safetensors),
            TokenizerPath = r.Tokenizer ?? RequireFile(Path.Combine(r.Llm!, "tokenizer.json"), $"--llm {r.Llm} has no tokenizer.json: pass --tokenizer FILE"),
            TokenizerSideFilesDirectory = r.Llm, Preprocessor = preprocessor,
        };
    }

    /// <summary>
    /// An HF LLaVA-Qwen folder (MLM-Filter's Qwen2.5 model): the LLM and the projector from its checkpoint, the vision
    /// tower from <c>--vision</c>, as LLaVA's loader takes the published SigLIP its config names (mm_vision_tower).
    /// </summary>
    static ModelSource FromLlava(string dir, ModelRequest r)
    {
        if (r.Llm is not null || r.Projector is not null)
            throw new StageContractException($"--llm and --projector do not combine with --model {dir} (a LLaVA-Qwen checkpoint holds both)");
        var llava = LlavaQwenConfig.Read(dir);
        if (r.Vision is null)
            throw new StageContractException($"{dir} is a LLaVA-Qwen model whose vision tower is {llava.VisionTower}: pass that SigLIP's HF folder as --vision DIR");
        var llm = ReadLlmConfig(dir, $"--model {dir}");
        var (vision, preprocessor) = ReadVisionFolder(r.Vision, "--vision");
        if (vision.HiddenSize != llava.VisionHiddenSize)
            throw new StageContractException($"--vision {r.Vision} has hidden_size {vision.HiddenSize}, but {dir} was trained on a tower of width {llava.VisionHiddenSize} (mm_hidden_size): give {llava.VisionTower}");
        return new ModelSource
        {
            Description = $"LLaVA-Qwen {dir} with --vision {r.Vision}",
            LlmConfig = llm, LlmWeights = new WeightsRef(dir, WeightsFormat.Llava),
            VisionConfig = vision, VisionWeights = new WeightsRef(r.Vision, WeightsFormat.Safetensors),
            ProjectorWeights = new WeightsRef(dir, WeightsFormat.Llava),
            TokenizerPath = r.Tokenizer ?? RequireFile(Path.Combine(dir, "tokenizer.json"), $"{dir} has no tokenizer.json: pass --tokenizer FILE"),
            TokenizerSideFilesDirectory = dir, Preprocessor = preprocessor,
        };
    }

    /// <summary>An exported model folder (kind model): llm/, vision/, projector.safetensors.</summary>
    public static ModelSource FromModelFolder(StageManifest m, string? tokenizer, string description)
    {
        string dir = m.Directory;
        string llmDir = Path.Combine(dir, RunLayout.ModelLlm), visionDir = Path.Combine(dir, RunLayout.ModelVision);
        var llm = ReadLlmConfig(llmDir, description);
        var (vision, preprocessor) = ReadVisionFolder(visionDir, description);
        string projector = RequireFile(Path.Combine(dir, RunLayout.ModelProjector), $"{dir} is incomplete: no {RunLayout.ModelProjector}; re-run the training that wrote it");
        return new ModelSource
        {
            Description = description,
            LlmConfig = llm, LlmWeights = new WeightsRef(llmDir, WeightsFormat.Safetensors),
            VisionConfig = vision, VisionWeights = new WeightsRef(visionDir, WeightsFormat.Safetensors),
            ProjectorWeights = new WeightsRef(projector, WeightsFormat.Safetensors),
            TokenizerPath = tokenizer ?? RequireFile(Path.Combine(llmDir, "tokenizer.json"), $"{llmDir} has no tokenizer.json; re-run the training that wrote it"),
            TokenizerSideFilesDirectory = llmDir,
            Preprocessor = PreprocessorOf(m, preprocessor),
            VisualTokens = m.Visual?.TokensPerImage, PromptFormat = m.PromptFormat, Manifest = m,
        };
    }

    /// <summary>A run folder: its final/ when the run finished, else the latest checkpoint with the run's configs.</summary>
    static ModelSource FromRun(StageManifest run, string? tokenizer, Action<string> warn)
    {
        string final = Path.Combine(run.Directory, RunLayout.Final);
        if (StageManifest.Exists(final))
            return FromModelFolder(StageManifest.Read(final).RequireKind("--model", StageKinds.Model), tokenizer, $"run {run.Directory} (final/)");
        var checkpoints = RunLayout.ListCheckpoints(Path.Combine(run.Directory, RunLayout.Checkpoints));
        if (checkpoints.Count == 0)
            throw new StageContractException($"run {run.Directory} has neither final/ nor a checkpoint yet: train it (or --resume it) first");
        var (step, ck, _) = UsableCheckpoint.Newest(checkpoints, int.MaxValue, CheckpointWeightsProblem, warn, out string? newestProblem)
            ?? throw new StageContractException($"run {run.Directory}: none of its {checkpoints.Count} checkpoint(s) is usable (newest {newestProblem}) and it has no final/: resume it from a sound --out or retrain");
        if (run.Model is not { } model || model["llm_config"] is not JsonObject llmJson || model["vision_config"] is not JsonObject visionJson)
            throw new StageContractException($"{Path.Combine(run.Directory, StageManifest.FileName)} lacks the model configs: re-run the training that wrote it");
        Qwen2Config llm;
        SiglipVisionConfig vision;
        try
        {
            llm = Qwen2Config.Parse(llmJson.ToJsonString());
            vision = SiglipVisionConfig.FromJson(visionJson);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or InvalidOperationException or FormatException or NotSupportedException)
        {
            throw new StageContractException($"{Path.Combine(run.Directory, StageManifest.FileName)}: bad model config ({e.Message})");
        }
        WeightsRef? visionWeights = File.Exists(Path.Combine(ck, RunLayout.VisionWeights))
            ? new WeightsRef(Path.Combine(ck, RunLayout.VisionWeights), WeightsFormat.Safetensors)
            : model["vision_weights"] is JsonObject vw && vw["path"]?.GetValue<string>() is { } path
                ? new WeightsRef(path, Enum.Parse<WeightsFormat>(vw["format"]?.GetValue<string>() ?? nameof(WeightsFormat.Safetensors), ignoreCase: true))
                : throw new StageContractException($"run {run.Directory}: checkpoint {Path.GetFileName(ck)} has no vision tower and the run's manifest names none");
        var preprocessor = PreprocessorOf(run, ImagePreprocessor.ResizeNaive(vision.ImageSize));
        return new ModelSource
        {
            Description = $"run {run.Directory} (checkpoint at step {step}; no final/ yet)",
            LlmConfig = llm, LlmWeights = new WeightsRef(Path.Combine(ck, RunLayout.LlmWeights), WeightsFormat.Safetensors),
            VisionConfig = vision, VisionWeights = visionWeights,
            ProjectorWeights = new WeightsRef(Path.Combine(ck, RunLayout.ProjectorWeights), WeightsFormat.Safetensors),
            TokenizerPath = tokenizer ?? run.RequireFile("tokenizer"),
            Preprocessor = preprocessor,
            VisualTokens = run.Visual?.TokensPerImage, PromptFormat = run.PromptFormat, Manifest = run,
        };
    }

    /// <summary>
    /// What is wrong with the weight files of a run's checkpoint, or null: the LLM and projector files are present with
    /// intact headers (a truncated copy fails here), and so is the vision file where the checkpoint holds one.
    /// </summary>
    static string? CheckpointWeightsProblem(string dir, TrainerState _)
    {
        foreach (var file in new[] { RunLayout.LlmWeights, RunLayout.ProjectorWeights, RunLayout.VisionWeights })
        {
            string path = Path.Combine(dir, file);
            if (file == RunLayout.VisionWeights && !File.Exists(path)) continue;   // a frozen tower stays in the run's manifest
            if (CheckpointFiles.Problem(path, []) is { } problem) return problem;
        }
        return null;
    }

    /// <summary>A released Open-Qwen2VL checkpoint: weights only; the Qwen2.5 config and tokenizer come from --llm.</summary>
    static ModelSource FromPrismatic(string pt, ModelRequest r, string runFolder)
    {
        if (r.Projector is not null) throw new StageContractException($"--projector does not combine with a released checkpoint ({pt} holds the projector)");
        if (r.Llm is null)
            throw new StageContractException($"{pt} holds weights only: give --llm QWEN2.5_DIR for the language model's config.json and tokenizer.json (e.g. Qwen/Qwen2.5-1.5B-Instruct)");
        var llm = ReadLlmConfig(r.Llm, "--llm");
        bool towerInside;
        using (var ck = OpenPrismatic(pt)) towerInside = ck.Vision is not null;
        SiglipVisionConfig vision;
        ImagePreprocessor preprocessor;
        if (r.Vision is not null) (vision, preprocessor) = ReadVisionFolder(r.Vision, "--vision");
        else if (towerInside && ReferenceVisionConfig(runFolder) is { } known) (vision, preprocessor) = (known, ImagePreprocessor.ResizeNaive(known.ImageSize));
        else throw new StageContractException(towerInside
            ? $"{pt} holds the vision tower but no config for it: give --vision SIGLIP_DIR (its config.json; e.g. google/siglip-so400m-patch14-384)"
            : $"{pt} has no vision tower (the recipe keeps it frozen): give --vision SIGLIP_DIR (e.g. google/siglip-so400m-patch14-384)");
        return new ModelSource
        {
            Description = $"released checkpoint {pt}",
            LlmConfig = llm, LlmWeights = new WeightsRef(pt, WeightsFormat.Prismatic),
            VisionConfig = vision,
            VisionWeights = towerInside ? new WeightsRef(pt, WeightsFormat.Prismatic) : new WeightsRef(r.Vision!, WeightsFormat.Safetensors),
            ProjectorWeights = new WeightsRef(pt, WeightsFormat.Prismatic),
            TokenizerPath = r.Tokenizer ?? RequireFile(Path.Combine(r.Llm, "tokenizer.json"), $"--llm {r.Llm} has no tokenizer.json: pass --tokenizer FILE"),
            TokenizerSideFilesDirectory = r.Llm, Preprocessor = preprocessor,
            // The released model was trained with the reference's own chat format.
            PromptFormat = PromptFormats.OpenQwen2VL,
        };
    }

    static PrismaticCheckpoint OpenPrismatic(string pt)
    {
        try { return PrismaticCheckpoint.Open(pt); }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            // The archive's messages already start with the path: name it once.
            string why = e.Message.Split('\n')[0];
            if (why.StartsWith(pt + ": ", StringComparison.Ordinal)) why = why[(pt.Length + 2)..];
            throw new StageContractException($"{pt} is not a readable Open-Qwen2VL checkpoint: {why}");
        }
    }

    /// <summary>
    /// The SigLIP sizes the reference run's config.json names by id (prismatic's vision_backbone_id), for a checkpoint
    /// whose vision_backbone entry holds the tower. Only the ids the recipe uses are known.
    /// </summary>
    static SiglipVisionConfig? ReferenceVisionConfig(string runFolder)
    {
        string file = Path.Combine(runFolder, "config.json");
        if (!File.Exists(file)) return null;
        try
        {
            var id = JsonNode.Parse(BoundedFile.ReadAllText(file, BoundedFile.SmallJsonMaxBytes, "a run config"))?["model"]?["vision_backbone_id"]?.GetValue<string>();
            // SigLIP-SO400M/14: 27 blocks of width 1152 (docs/notes/open-qwen2vl.md), 16 heads and MLP 4304 (the published
            // google/siglip-so400m-patch14-384 config.json), at 384 or 224 px.
            return id switch
            {
                "siglip-vit-so400m-384px" => So400m(384),
                "siglip-vit-so400m" => So400m(224),
                _ => null,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }

        static SiglipVisionConfig So400m(int size) => SiglipVisionConfig.FromJson(new JsonObject
        {
            ["hidden_size"] = 1152, ["intermediate_size"] = 4304, ["num_hidden_layers"] = 27, ["num_attention_heads"] = 16,
            ["image_size"] = size, ["patch_size"] = 14, ["hidden_act"] = "gelu_pytorch_tanh", ["layer_norm_eps"] = 1e-6,
        });
    }

    static Qwen2Config ReadLlmConfig(string dir, string what)
    {
        if (!Directory.Exists(dir)) throw new StageContractException($"{what}: folder not found: {dir}");
        string file = Path.Combine(dir, "config.json");
        if (!File.Exists(file)) throw new StageContractException($"{what}: {dir} has no config.json (not an HF model folder)");
        try { return Qwen2Config.Load(file); }
        catch (Exception e) when (e is InvalidDataException or JsonException or InvalidOperationException or FormatException or NotSupportedException or KeyNotFoundException)
        {
            // The message names the file and the field.
            throw new StageContractException($"{what}: not a usable Qwen2 config: {e.Message.Split('\n')[0]}");
        }
    }

    static (SiglipVisionConfig, ImagePreprocessor) ReadVisionFolder(string dir, string what)
    {
        if (!Directory.Exists(dir)) throw new StageContractException($"{what}: folder not found: {dir}");
        string file = Path.Combine(dir, "config.json");
        if (!File.Exists(file)) throw new StageContractException($"{what}: {dir} has no config.json (not an HF SigLIP folder)");
        try { return (SiglipVisionConfig.Load(file), ImagePreprocessor.FromModelDirectory(dir)); }
        catch (Exception e) when (e is InvalidDataException or JsonException or InvalidOperationException or FormatException or NotSupportedException or KeyNotFoundException or ArgumentException)
        {
            throw new StageContractException($"{what}: {dir} is not a SigLIP folder ({e.Message.Split('\n')[0]})");
        }
    }

    static ImagePreprocessor PreprocessorOf(StageManifest m, ImagePreprocessor fallback) =>
        m.Visual is { ImageSize: int size, ImageMean: { Length: 3 } mean, ImageStd: { Length: 3 } std } ? new ImagePreprocessor(size, mean, std) : fallback;

    static bool LooksLikeHfLlm(string dir)
    {
        string file = Path.Combine(dir, "config.json");
        if (!File.Exists(file)) return false;
        try { return JsonNode.Parse(BoundedFile.ReadAllText(file, BoundedFile.SmallJsonMaxBytes, "a model config"))?["model_type"]?.GetValue<string>() is "qwen2" or "llama" or "mistral"; }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return false; }
    }

    static string RequireFile(string path, string message) => File.Exists(path) ? path : throw new StageContractException(message);
}
