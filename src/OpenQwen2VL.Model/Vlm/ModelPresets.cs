using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>The built-in model presets: every part freshly initialised (see <see cref="VlmLoader.Load"/>).</summary>
public enum ModelPreset
{
    /// <summary>
    /// <see cref="VlmConfig.Tiny"/>: 56-px images in 7-px patches (an 8x8 grid) through a 3-block SigLIP tower that
    /// starts as identity blocks, a 2-layer GQA Qwen2; for tests, smoke runs and the demo on a laptop CPU.
    /// </summary>
    Tiny,
}

public static class ModelPresets
{
    /// <summary>
    /// A preset sized for a tokenizer: its vocabulary is the tokenizer's (with Open-Qwen2VL's special tokens), so every
    /// id the data holds has an embedding row.
    /// </summary>
    public static ModelSource Source(ModelPreset preset, string tokenizerPath)
    {
        var tokenizer = MultimodalTokens.LoadTokenizer(tokenizerPath);
        var config = preset switch
        {
            ModelPreset.Tiny => VlmConfig.Tiny(tokenizer.VocabSize),
            _ => throw new ArgumentOutOfRangeException(nameof(preset)),
        };
        return new ModelSource
        {
            Description = $"preset {preset.ToString().ToLowerInvariant()} ({tokenizer.VocabSize:N0}-id vocabulary of {tokenizerPath})",
            LlmConfig = config.Llm, VisionConfig = config.Vision, TokenizerPath = tokenizerPath,
            Preprocessor = ImagePreprocessor.ResizeNaive(config.Vision.ImageSize),
        };
    }
}
