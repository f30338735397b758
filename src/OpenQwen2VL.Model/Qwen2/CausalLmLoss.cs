using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Next-token cross-entropy as HF computes it: logits at position t predict labels at t+1, label -100
/// is ignored, mean over the remaining targets, in float32.
/// </summary>
public static class CausalLmLoss
{
    public const long IgnoreIndex = -100;

    /// <param name="logits">[B, L, V]</param>
    /// <param name="labels">[B, L] int64, -100 where no loss</param>
    public static Tensor Compute(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var (shiftedLogits, shiftedLabels) = Shift(logits, labels);
        return nn.functional.cross_entropy(shiftedLogits, shiftedLabels, ignore_index: IgnoreIndex).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The summed next-token loss and the number of targets (both scalars, no host sync), for averaging
    /// over gradient-accumulation micro-batches: mean = sum / count.
    /// </summary>
    public static (Tensor LossSum, Tensor TargetTokens) Sum(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var (shiftedLogits, shiftedLabels) = Shift(logits, labels);
        var sum = nn.functional.cross_entropy(shiftedLogits, shiftedLabels, ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum);
        var count = shiftedLabels.ne(CachedScalars.IgnoreIndex).sum();
        return (sum.MoveToOuterDisposeScope(), count.MoveToOuterDisposeScope());
    }

    /// <summary>Float32 logits [B·(L-1), V] and their targets: HF pads labels with -100 on the right and
    /// shifts left, which is the same as dropping the last logit.</summary>
    private static (Tensor Logits, Tensor Labels) Shift(Tensor logits, Tensor labels)
    {
        long l = logits.shape[1], v = logits.shape[2];
        return (logits.narrow(1, 0, l - 1).reshape(-1, v).to(ScalarType.Float32),
                labels.narrow(1, 1, l - 1).reshape(-1).to(logits.device));
    }
}
