using OpenQwen2VL.Model.Qwen2;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// Greedy (argmax) decoding for a Qwen2 LM from a prompt given as ids or as input embeddings (the VLM
/// passes embeddings with image tokens spliced in). With a key/value cache only the new token is run per
/// step; without, the whole sequence is re-run; both give the same ids.
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
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var stops = new HashSet<long>(stopTokens ?? []);
        int rows = (int)promptEmbeds.shape[0];
        long promptLength = promptEmbeds.shape[1];
        int maxPositions = lm.Config.MaxPositionEmbeddings;
        if (promptLength >= maxPositions) throw new PromptTooLongException((int)Math.Min(promptLength, int.MaxValue), maxPositions);
        maxNewTokens = (int)Math.Min(maxNewTokens, maxPositions - promptLength);
        var outputs = Enumerable.Range(0, rows).Select(_ => new List<long>()).ToArray();
        var finished = new bool[rows];
        using var cache = useCache ? lm.NewCache() : null;

        var sequence = promptEmbeds; // whole sequence so far (no-cache mode)
        var stepInput = promptEmbeds; // what the next forward consumes
        for (int step = 0; step < maxNewTokens; step++)
        {
            using var stepScope = NewDisposeScope();
            var logits = lm.Logits(inputsEmbeds: useCache ? stepInput : sequence, cache: cache);
            var next = logits.select(1, logits.shape[1] - 1).argmax(-1); // [B]
            // One host read per generated token: the stop test needs the ids.
            var ids = next.cpu().data<long>().ToArray();
            for (int r = 0; r < rows; r++)
            {
                if (finished[r]) continue;
                outputs[r].Add(ids[r]);
                if (stops.Contains(ids[r])) finished[r] = true;
            }
            if (finished.All(f => f) || step == maxNewTokens - 1) break;

            var nextEmbeds = lm.Embed(next.unsqueeze(1));
            // Free the previous step's tensor now rather than at method end (the prompt belongs to the caller).
            var previous = useCache ? stepInput : sequence;
            if (useCache) stepInput = nextEmbeds.MoveToOuterDisposeScope();
            else sequence = cat([sequence, nextEmbeds], 1).MoveToOuterDisposeScope();
            if (!ReferenceEquals(previous, promptEmbeds)) previous.Dispose();
        }
        return outputs.Select(o => o.ToArray()).ToArray();
    }
}
