using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// Writes the non-weight files of an exported model folder (<see cref="RunLayout"/>): the HF configs of the LLM and the
/// vision tower, the tokenizer (with its HF side files), the image processor config and <c>manifest.json</c>, so the
/// folder loads by itself with <c>--model</c> and its llm/ is a plain HF Qwen2 folder.
/// </summary>
public static class ModelExport
{
    /// <summary>Tokenizer and config files copied from the tokenizer's folder when present.</summary>
    static readonly string[] TokenizerSideFiles =
        ["tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json", "generation_config.json"];

    /// <param name="llmRows">embedding rows of the model (the tokenizer may have grown them beyond the config's vocab_size)</param>
    public static void WriteSideFiles(string folder, Qwen2Config llm, long llmRows, SiglipVisionConfig vision, ImagePreprocessor preprocessor,
        string tokenizerPath, string? tokenizerSideFilesDirectory, StageManifest manifest)
    {
        string llmDir = Path.Combine(folder, RunLayout.ModelLlm), visionDir = Path.Combine(folder, RunLayout.ModelVision);
        Directory.CreateDirectory(llmDir);
        Directory.CreateDirectory(visionDir);
        AtomicFile.WriteAllText(Path.Combine(llmDir, "config.json"), (llm with { VocabSize = checked((int)llmRows) }).ToJson());
        File.Copy(tokenizerPath, Path.Combine(llmDir, "tokenizer.json"), overwrite: true);
        if (tokenizerSideFilesDirectory is not null)
            foreach (var f in TokenizerSideFiles.Where(f => File.Exists(Path.Combine(tokenizerSideFilesDirectory, f))))
                File.Copy(Path.Combine(tokenizerSideFilesDirectory, f), Path.Combine(llmDir, f), overwrite: true);
        AtomicFile.WriteAllText(Path.Combine(visionDir, "config.json"), vision.ToJson());
        AtomicFile.WriteAllText(Path.Combine(visionDir, RunLayout.HfPreprocessorConfig), PreprocessorConfig(preprocessor));
        manifest.Write(folder);
    }

    /// <summary>HF SiglipImageProcessor settings for the transform: bicubic resize to S x S, rescale 1/255, normalise.</summary>
    public static string PreprocessorConfig(ImagePreprocessor p) => new JsonObject
    {
        ["image_processor_type"] = "SiglipImageProcessor",
        ["do_resize"] = true,
        ["size"] = new JsonObject { ["height"] = p.Size, ["width"] = p.Size },
        ["resample"] = 3,
        ["do_rescale"] = true,
        ["rescale_factor"] = 1.0 / 255,
        ["do_normalize"] = true,
        ["image_mean"] = new JsonArray(p.Mean.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
        ["image_std"] = new JsonArray(p.Std.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

    /// <summary>The visual facts of a model: tokens per image, input size and normalisation.</summary>
    public static VisualFacts Visual(int tokensPerImage, ImagePreprocessor p) => new()
    {
        TokensPerImage = tokensPerImage, ImageSize = p.Size, ImageMean = [.. p.Mean], ImageStd = [.. p.Std],
    };
}
