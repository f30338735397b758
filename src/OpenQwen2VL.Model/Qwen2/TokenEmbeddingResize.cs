using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Grows a loaded Qwen2 LM's vocabulary (HF <c>resize_token_embeddings</c>) when a tokenizer needs ids beyond
/// the checkpoint's <c>vocab_size</c>, e.g. after adding <c>&lt;s&gt;</c> or <c>&lt;|endofchunk|&gt;</c>. Existing rows are
/// kept bit for bit; new rows are the mean of the old ones (HF's mean-resizing, without its random spread, so the
/// result is deterministic). With tied embeddings the head follows automatically; an untied head grows the same way.
/// Only grows: published Qwen2.5 checkpoints pad their vocabulary, so shrinking is never needed.
/// </summary>
public static class TokenEmbeddingResize
{
    private const string EmbedModule = "model.embed_tokens";
    private const string HeadModule = "lm_head";

    /// <summary>Current number of embedding rows (the config's <c>vocab_size</c> until resized).</summary>
    public static long Rows(Qwen2ForCausalLM lm)
    {
        using var embed = lm.Decoder.EmbedWeight;
        return embed.shape[0];
    }

    /// <summary>Resizes to <paramref name="vocabSize"/> rows; returns false (and changes nothing) when already that large.</summary>
    public static bool GrowTo(Qwen2ForCausalLM lm, long vocabSize)
    {
        if (vocabSize <= Rows(lm)) return false;
        var modules = lm.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var embed = (Embedding)modules[EmbedModule];
        // The handle the (native) Embedding registered at construction: its weight setter replaces it without
        // disposing it, which would keep the old table alive until the GC finalises the handle.
        var old = embed.get_parameter("weight")!;
        embed.weight = Grown(old, vocabSize);
        old.Dispose();
        if (modules.TryGetValue(HeadModule, out var head)) ((Linear)head).weight = Grown(((Linear)head).weight!, vocabSize);
        return true;
    }

    private static Parameter Grown(Parameter old, long rows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mean = old.to(ScalarType.Float32).mean([0], keepdim: true).to(old.dtype);
        var extra = mean.expand(rows - old.shape[0], old.shape[1]);
        var weight = cat([old.detach(), extra], 0).contiguous();
        return new Parameter(weight.MoveToOuterDisposeScope(), old.requires_grad);
    }
}
