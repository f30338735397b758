using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// The attention mask of a left-padded batch: causal, and no real token attends to padding. A padding position attends
/// to itself only, so its row of the softmax is never empty (an all-masked row is NaN, and a NaN value vector would
/// poison the real queries through the 0 weights HF's `_unmask_unattended` also avoids).
/// </summary>
public static class PaddedAttentionMask
{
    /// <param name="realKeys">bool [B, T]: which sequence slots hold real tokens</param>
    /// <param name="offset">slot of the first query (the number of cached positions)</param>
    /// <param name="queries">number of query positions</param>
    /// <returns>bool [B, 1, queries, offset + queries], true where attention is allowed</returns>
    public static Tensor Build(Tensor realKeys, long offset, long queries)
    {
        using var scope = NewDisposeScope();
        long rows = realKeys.shape[0], keys = offset + queries;
        var keyIsReal = realKeys.narrow(1, 0, keys).view(rows, 1, 1, keys);
        if (queries == 1) return keyIsReal.MoveToOuterDisposeScope(); // a new token is real and its own key
        var device = realKeys.device;
        using var first = offset.ToScalar();
        using var end = keys.ToScalar();
        var queryIndex = arange(first, end, CachedScalars.One, dtype: ScalarType.Int64, device: device).view(queries, 1);
        var keyIndex = arange(CachedScalars.Zero, end, CachedScalars.One, dtype: ScalarType.Int64, device: device).view(1, keys);
        var causal = keyIndex.le(queryIndex);
        var self = keyIndex.eq(queryIndex);
        return causal.logical_and(keyIsReal.logical_or(self)).MoveToOuterDisposeScope();
    }
}
