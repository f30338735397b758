using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// HF's logits processors on next-token scores [B, V] (float): each returns new scores, removed tokens at -inf.
/// </summary>
public static class LogitsWarpers
{
    /// <summary>
    /// HF RepetitionPenaltyLogitsProcessor: where <paramref name="seen"/> (bool [B, V]) is set, a positive score is
    /// divided by <paramref name="penalty"/> and a negative one multiplied by it.
    /// </summary>
    public static Tensor RepetitionPenalty(Tensor scores, Tensor seen, double penalty)
    {
        using var scope = NewDisposeScope();
        using var p = penalty.ToScalar();
        var penalised = where(scores.lt(CachedScalars.Zero), scores.mul(p), scores.div(p));
        return where(seen, penalised, scores).MoveToOuterDisposeScope();
    }

    /// <summary>HF TemperatureLogitsWarper: scores / temperature.</summary>
    public static Tensor Temperature(Tensor scores, double temperature)
    {
        using var t = temperature.ToScalar();
        return scores.div(t);
    }

    /// <summary>HF TopKLogitsWarper: scores below the k-th largest of their row become -inf (ties with it stay).</summary>
    public static Tensor TopK(Tensor scores, int k)
    {
        using var scope = NewDisposeScope();
        k = (int)Math.Min(k, scores.shape[^1]);
        var kth = scores.topk(k).values.narrow(-1, k - 1, 1);
        return scores.masked_fill(scores.lt(kth), CachedScalars.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// HF TopPLogitsWarper: sorted ascending, the tokens whose cumulative probability stays at or below 1 - p are
    /// removed; the most likely token always stays.
    /// </summary>
    public static Tensor TopP(Tensor scores, double p)
    {
        using var scope = NewDisposeScope();
        var (sorted, order) = scores.sort(-1, descending: false);
        var cumulative = sorted.softmax(-1).cumsum(-1);
        using var threshold = (1 - p).ToScalar();
        var remove = cumulative.le(threshold);
        remove.narrow(-1, remove.shape[^1] - 1, 1).zero_(); // keep at least one token
        var removeInVocabOrder = remove.scatter(-1, order, remove);
        return scores.masked_fill(removeInVocabOrder, CachedScalars.NegativeInfinity).MoveToOuterDisposeScope();
    }
}
