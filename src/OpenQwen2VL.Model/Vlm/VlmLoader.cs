using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// Assembles an Open-Qwen2VL model from real checkpoints: SigLIP (HF folder, backbone mode: blocks up to the
/// penultimate), the projector (prismatic safetensors or a released prismatic-checkpoint.pt) and Qwen2 (HF folder
/// or the same .pt). Every part goes through <see cref="CheckpointLoader"/> in strict mode: each module tensor
/// is loaded (or tied) and each checkpoint tensor used, except the parts of a SigLIP checkpoint the backbone
/// deliberately does not build (text tower, last block, post-layernorm, pooling head), which are counted as ignored.
/// </summary>
public static class VlmLoader
{
    /// <summary>
    /// Special tokens Open-Qwen2VL adds to Qwen2.5's tokenizer, in its order: <c>&lt;|endofchunk|&gt;</c> ends an
    /// interleaved chunk, <c>&lt;s&gt;</c> opens a caption sample.
    /// </summary>
    public static readonly IReadOnlyList<string> RequiredSpecialTokens = [MultimodalTokens.EndOfChunk, MultimodalTokens.Bos];

    public static LoadedVlm Load(VlmLoadOptions options)
    {
        if ((options.ProjectorPath is null) == (options.PrismaticPath is null))
            throw new ArgumentException("give exactly one of a projector safetensors file and a prismatic checkpoint");
        RequireFolder(options.LlmPath, "LLM");
        RequireFolder(options.VisionPath, "vision");
        var llmConfig = Qwen2Config.Load(RequireFile(Path.Combine(options.LlmPath, "config.json"), "LLM config"));
        var visionConfig = SiglipVisionConfig.Load(RequireFile(Path.Combine(options.VisionPath, "config.json"), "vision config"));
        int pool = options.PoolSide ?? visionConfig.GridSide;
        if (pool < 1 || pool > visionConfig.GridSide)
            throw new ArgumentOutOfRangeException(nameof(options), $"pool side {pool} must be within 1..{visionConfig.GridSide} (the patch grid side)");

        var tokenizer = BpeTokenizer.Load(RequireFile(options.TokenizerPath ?? Path.Combine(options.LlmPath, "tokenizer.json"), "tokenizer"));
        var added = RequiredSpecialTokens.Where(t => tokenizer.TokenToId(t) is null).ToArray();
        if (added.Length > 0) tokenizer.AddSpecialTokens(added);
        var preprocessor = ImagePreprocessor.FromModelDirectory(options.VisionPath);

        // Built directly in the target dtype: a bf16 model never exists in float32 first (twice the memory).
        var model = new VisionLanguageModel(new VlmConfig(visionConfig, llmConfig, pool), options.DType);
        try
        {
            var reports = new List<CheckpointLoadReport> { LoadVisionBackbone(model.VisionBackbone, options.VisionPath, options.DType, options.Device) };
            if (options.PrismaticPath is { } pt)
            {
                using var ck = PrismaticCheckpoint.Open(RequirePath(pt, "prismatic checkpoint"));
                reports.Add(CheckpointLoader.LoadInto(model.Projector, ck.Projector, options.DType, options.Device));
                reports.Add(CheckpointLoader.LoadInto(model.Llm, ck.Llm, options.DType, options.Device, tieWordEmbeddings: llmConfig.TieWordEmbeddings));
            }
            else
            {
                reports.Add(CheckpointLoader.LoadInto(model.Projector, RequireFile(options.ProjectorPath!, "projector"), options.DType, options.Device,
                    PrismaticCheckpoint.ProjectorName));
                reports.Add(CheckpointLoader.LoadInto(model.Llm, options.LlmPath, options.DType, options.Device));
            }
            // Ids the tokenizer hands out must have embedding rows (Qwen2.5's padded vocabulary usually has room).
            TokenEmbeddingResize.GrowTo(model.Llm, tokenizer.VocabSize);
            model.eval();
            return new LoadedVlm(model, tokenizer, preprocessor, reports, added, llmConfig.VocabSize);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A Qwen2 causal LM from an HF folder (config.json + weights), in eval mode.</summary>
    public static (Qwen2ForCausalLM Model, CheckpointLoadReport Report) LoadLanguageModel(string folder, ScalarType dtype, Device device)
    {
        RequireFolder(folder, "LLM");
        var config = Qwen2Config.Load(RequireFile(Path.Combine(folder, "config.json"), "LLM config"));
        var lm = new Qwen2ForCausalLM(config, dtype);
        try
        {
            var report = CheckpointLoader.LoadInto(lm, folder, dtype, device);
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
    /// Loads a SiglipModel or SiglipVisionModel checkpoint into a backbone-mode vision tower. Tensors of the parts
    /// the backbone does not build are ignored; anything else the module lacks is an error (strict).
    /// </summary>
    public static CheckpointLoadReport LoadVisionBackbone(SiglipVisionModel backbone, string folder, ScalarType dtype, Device device)
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
        return CheckpointLoader.LoadInto(backbone, folder, dtype, device, Map);
    }

    private static void RequireFolder(string path, string what)
    {
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"{what} folder not found: {path}");
    }

    private static string RequireFile(string path, string what) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"{what} file not found: {path}", path);

    private static string RequirePath(string path, string what) =>
        File.Exists(path) || Directory.Exists(path) ? path : throw new FileNotFoundException($"{what} not found: {path}", path);
}
