using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Checkpoints;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>An assembled model with what it takes to run it: its tokenizer, image transform and load reports.</summary>
public sealed class LoadedVlm(VisionLanguageModel model, BpeTokenizer tokenizer, ImagePreprocessor preprocessor,
    IReadOnlyList<CheckpointLoadReport> reports, IReadOnlyList<string> addedTokens, long checkpointVocabSize, ModelSource source) : IDisposable
{
    public VisionLanguageModel Model { get; } = model;
    public BpeTokenizer Tokenizer { get; } = tokenizer;
    /// <summary>The vision tower's transform (image size from its config, mean/std from preprocessor_config.json).</summary>
    public ImagePreprocessor Preprocessor { get; } = preprocessor;
    /// <summary>One report per loaded part: vision, projector, LLM.</summary>
    public IReadOnlyList<CheckpointLoadReport> Reports { get; } = reports;
    /// <summary>Special tokens the tokenizer lacked and the loader added.</summary>
    public IReadOnlyList<string> AddedTokens { get; } = addedTokens;
    /// <summary>The LLM's <c>vocab_size</c> in the checkpoint; the model has more rows when the tokenizer needed them.</summary>
    public long CheckpointVocabSize { get; } = checkpointVocabSize;
    public bool EmbeddingsResized => Qwen2.TokenEmbeddingResize.Rows(Model.Llm) != CheckpointVocabSize;
    /// <summary>Where it came from (configs, weights, the manifest's defaults).</summary>
    public ModelSource Source { get; } = source;
    /// <summary>Visual tokens per image the model now uses.</summary>
    public int VisualTokens => Model.Projector.PoolSide * Model.Projector.PoolSide;

    /// <summary>Ids that end a generation: the config's eos ids plus <c>&lt;|im_end|&gt;</c> and <c>&lt;|endoftext|&gt;</c> when the tokenizer has them.</summary>
    public IReadOnlyCollection<long> StopTokenIds
    {
        get
        {
            var stops = Model.Config.Llm.EosTokenIds.Select(i => (long)i).ToHashSet();
            foreach (var t in new[] { MultimodalTokens.ImEnd, "<|endoftext|>" })
                if (Tokenizer.TokenToId(t) is int id) stops.Add(id);
            return stops;
        }
    }

    public void Dispose() => Model.Dispose();
}
