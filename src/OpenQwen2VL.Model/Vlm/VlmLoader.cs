using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>How to materialise a <see cref="ModelSource"/>.</summary>
public sealed record VlmLoadSettings
{
    /// <summary>Floating dtype of every parameter (float32, bfloat16, float16).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public Device Device { get; init; } = CPU;
    /// <summary>Visual tokens per image (a square: the projector's pooled grid); null: the source's own, else the full patch grid.</summary>
    public int? VisualTokens { get; init; }
    /// <summary>Seed of the parts that start fresh (a preset, the projector of a first pre-training stage).</summary>
    public long Seed { get; init; } = 7;
}

/// <summary>
/// The one code path that builds an Open-Qwen2VL model, for every source <see cref="ModelSourceResolver"/> accepts and
/// for the built-in presets: configs → the weights' headers, checked against the configs' sizes
/// (<see cref="ConfigWeightsCheck"/>), and the parameter memory against what is available (<see cref="ParameterMemory"/>)
/// → the network, built directly in the target dtype → each part's weights through
/// <see cref="CheckpointLoader"/> in strict mode (every module tensor loaded or tied, every checkpoint tensor used, except
/// the parts of a SigLIP checkpoint the backbone deliberately does not build: text tower, last block, post-layernorm,
/// head) → embeddings grown to the tokenizer when it needs more rows. Parts without weights start fresh from
/// <see cref="VlmLoadSettings.Seed"/>.
/// </summary>
public static class VlmLoader
{
    /// <summary>Special tokens Open-Qwen2VL adds to Qwen2.5's tokenizer (<see cref="MultimodalTokens.AddedSpecialTokens"/>).</summary>
    public static IReadOnlyList<string> RequiredSpecialTokens => MultimodalTokens.AddedSpecialTokens;

    public static LoadedVlm Load(ModelSource source, VlmLoadSettings? settings = null)
    {
        settings ??= new VlmLoadSettings();
        var tokenizer = OpenQwen2VL.Data.Tokenization.BpeTokenizer.Load(source.TokenizerPath);
        var added = MultimodalTokens.AddedSpecialTokens.Where(t => tokenizer.TokenToId(t) is null).ToArray();
        if (added.Length > 0) tokenizer.AddSpecialTokens(added);
        int pool = PoolSide(settings.VisualTokens ?? source.VisualTokens, source.VisionConfig, source.Description);
        var dtype = settings.DType;
        var device = settings.Device;

        PrismaticCheckpoint? prismatic = null;
        SafetensorsCheckpoint? visionFile = null, llmFile = null;
        try
        {
            PrismaticCheckpoint Prismatic(string path) => prismatic ??= PrismaticCheckpoint.Open(path);
            // The weights' headers first: their shapes are checked against the configs, and the configs' size against
            // the memory, before the network is built (a crafted config must not allocate what it names).
            ICheckpointTensors? vision = source.VisionWeights is not { } vw ? null
                : vw.Format == WeightsFormat.Prismatic
                    ? Prismatic(vw.Path).Vision ?? throw new StageContractException($"{vw.Path} has no vision_backbone entry")
                    : new SafetensorsCheckpointTensors(visionFile = SafetensorsCheckpoint.Open(vw.Path));
            ICheckpointTensors? llm = source.LlmWeights is not { } lw ? null
                : lw.Format == WeightsFormat.Prismatic ? Prismatic(lw.Path).Llm
                : new SafetensorsCheckpointTensors(llmFile = SafetensorsCheckpoint.Open(lw.Path));
            if (vision is not null) ConfigWeightsCheck.VisionBackbone(source.VisionConfig, vision);
            if (llm is not null) ConfigWeightsCheck.Llm(source.LlmConfig, llm);
            var config = new VlmConfig(source.VisionConfig, source.LlmConfig, pool);
            ParameterMemory.Require(ParameterMemory.Count(config), dtype, source.Description);

            // The seed fixes every fresh part (a preset's towers, a new projector); loaded parts overwrite theirs.
            manual_seed(settings.Seed);
            // Built directly in the target dtype: a bf16 model never exists in float32 first (twice the memory).
            var model = new VisionLanguageModel(config, dtype);
            try
            {
                var reports = new List<CheckpointLoadReport>();
                if (vision is not null) reports.Add(LoadVisionBackbone(model.VisionBackbone, vision, dtype, device));
                else SiglipScratchInit.ZeroResidualBranchOutputs(model.VisionBackbone);   // a tower trained from scratch
                if (source.ProjectorWeights is { } pw)
                    reports.Add(pw.Format switch
                    {
                        WeightsFormat.Prismatic => CheckpointLoader.LoadInto(model.Projector, Prismatic(pw.Path).Projector, dtype, device),
                        WeightsFormat.Llava => CheckpointLoader.LoadInto(model.Projector, llm!, dtype, device, LlavaQwenConfig.ProjectorName),
                        _ => CheckpointLoader.LoadInto(model.Projector, pw.Path, dtype, device, PrismaticCheckpoint.ProjectorName),
                    });
                if (llm is not null)
                    reports.Add(CheckpointLoader.LoadInto(model.Llm, llm, dtype, device,
                        source.LlmWeights!.Format == WeightsFormat.Llava ? LlavaQwenConfig.LlmName : null, tieWordEmbeddings: source.LlmConfig.TieWordEmbeddings));
                else model.Llm.InitializeWeights();   // HF's init for a fresh LM
                model.to(device);
                // Ids the tokenizer hands out must have embedding rows (Qwen2.5's padded vocabulary usually has room).
                TokenEmbeddingResize.GrowTo(model.Llm, tokenizer.VocabSize);
                model.eval();
                return new LoadedVlm(model, tokenizer, source.Preprocessor, reports, added, source.LlmConfig.VocabSize, source);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        finally
        {
            prismatic?.Dispose();
            visionFile?.Dispose();
            llmFile?.Dispose();
        }
    }

    /// <summary>The projector's pooled grid side for <paramref name="visualTokens"/> (null: the full patch grid), or a one-line error.</summary>
    public static int PoolSide(int? visualTokens, SiglipVisionConfig vision, string model)
    {
        if (visualTokens is not int n) return vision.GridSide;
        int side = (int)Math.Round(Math.Sqrt(n));
        if (n < 1 || side * side != n)
            throw new StageContractException($"{n} visual tokens per image is not a square grid (pooling is side x side, e.g. 144 = 12x12)");
        if (side > vision.GridSide)
            throw new StageContractException($"{VisualFacts.DescribeTokens(n)} is more than the vision tower of {model} has: its patch grid is {vision.GridSide}x{vision.GridSide} = {vision.NumPatches}");
        return side;
    }

    /// <summary>A Qwen2 causal LM from an HF folder (config.json + weights), in eval mode.</summary>
    public static (Qwen2ForCausalLM Model, CheckpointLoadReport Report) LoadLanguageModel(string folder, ScalarType dtype, Device device)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"LLM folder not found: {folder}");
        var config = Qwen2Config.Load(folder);
        using var ck = SafetensorsCheckpoint.Open(folder);
        var weights = new SafetensorsCheckpointTensors(ck);
        ConfigWeightsCheck.Llm(config, weights);
        ParameterMemory.Require(ParameterMemory.Count(config), dtype, folder);
        var lm = new Qwen2ForCausalLM(config, dtype);
        try
        {
            var report = CheckpointLoader.LoadInto(lm, weights, dtype, device, tieWordEmbeddings: HfCheckpointConfig.ReadTieWordEmbeddings(folder) ?? true);
            lm.eval();
            return (lm, report);
        }
        catch
        {
            lm.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A whole SiglipModel (both towers, logit scale and bias) from an HF folder (config.json + safetensors), strict:
    /// what the curation scorer uses. A SiglipVisionModel folder has no text tower and is refused by the load.
    /// </summary>
    public static SiglipModel LoadSiglip(string folder, ScalarType dtype, Device device)
    {
        var model = SiglipModel.Load(Path.Combine(folder, "config.json"));
        try
        {
            CheckpointLoader.LoadInto(model, folder, dtype, device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a SiglipModel or SiglipVisionModel checkpoint (an HF folder or one safetensors file) into a backbone-mode
    /// vision tower. Tensors of the parts the backbone does not build are ignored; anything else the module lacks is
    /// an error (strict).
    /// </summary>
    public static CheckpointLoadReport LoadVisionBackbone(SiglipVisionModel backbone, string folderOrFile, ScalarType dtype, Device device)
    {
        using var ck = SafetensorsCheckpoint.Open(folderOrFile);
        return LoadVisionBackbone(backbone, new SafetensorsCheckpointTensors(ck), dtype, device);
    }

    /// <summary><see cref="LoadVisionBackbone(SiglipVisionModel, string, ScalarType, Device)"/> from any tensor source under HF names.</summary>
    public static CheckpointLoadReport LoadVisionBackbone(SiglipVisionModel backbone, ICheckpointTensors source, ScalarType dtype, Device device)
    {
        const string prefix = "vision_model.";
        var config = backbone.Config;
        string lastBlock = $"{prefix}encoder.layers.{config.NumHiddenLayers - 1}.";
        string? Map(string key)
        {
            // Text tower, logit_scale/bias, and a non-persistent buffer older HF versions saved.
            if (!key.StartsWith(prefix, StringComparison.Ordinal) || key.EndsWith(".position_ids", StringComparison.Ordinal)) return null;
            if (!backbone.Tower.IsBackbone) return key;
            return key.StartsWith(lastBlock, StringComparison.Ordinal)
                || key.StartsWith(prefix + "post_layernorm.", StringComparison.Ordinal)
                || key.StartsWith(prefix + "head.", StringComparison.Ordinal) ? null : key;
        }
        return CheckpointLoader.LoadInto(backbone, source, dtype, device, Map);
    }
}
