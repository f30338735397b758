using OpenQwen2VL.Model.Qwen2;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// Greedy (argmax) decoding of rows of equal length, from ids or input embeddings: a shorthand for
/// <see cref="BatchGeneration.Run"/> with no padding and the same stop tokens for every row.
/// </summary>
public static class GreedyDecoding
{
    /// <summary>New ids per prompt row for int64 prompt ids [B, L].</summary>
    public static long[][] FromIds(Qwen2ForCausalLM lm, Tensor promptIds, int maxNewTokens, IReadOnlyCollection<long>? stopTokens = null, bool useCache = true)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return FromEmbeds(lm, lm.Embed(promptIds), maxNewTokens, stopTokens, useCache);
    }

    /// <summary>
    /// New ids per row for prompt embeddings [B, L, D] (rows of equal length). A row ends at its first
    /// stop token, which is included in its output (as HF generate does), or after <paramref name="maxNewTokens"/>,
    /// or when prompt + output reach the model's max_position_embeddings (HF's max_length cap): a prompt already
    /// at that length is refused with <see cref="PromptTooLongException"/>.
    /// </summary>
    public static long[][] FromEmbeds(Qwen2ForCausalLM lm, Tensor promptEmbeds, int maxNewTokens, IReadOnlyCollection<long>? stopTokens = null, bool useCache = true)
    {
        int rows = (int)promptEmbeds.shape[0];
        var stop = new StopCriteria(stopTokens ?? []);
        return BatchGeneration.Run(lm, promptEmbeds, Enumerable.Repeat(promptEmbeds.shape[1], rows).ToArray(),
            GenerationOptions.Greedy(maxNewTokens, useCache), Enumerable.Repeat<StopCriteria?>(stop, rows).ToArray());
    }
}
