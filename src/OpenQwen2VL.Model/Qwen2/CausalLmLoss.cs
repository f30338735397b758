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
        long l = logits.shape[1], v = logits.shape[2];
        // HF pads labels with -100 on the right and shifts left, which is the same as dropping the last logit.
        var shiftedLogits = logits.narrow(1, 0, l - 1).reshape(-1, v).to(ScalarType.Float32);
        var shiftedLabels = labels.narrow(1, 1, l - 1).reshape(-1).to(logits.device);
        return nn.functional.cross_entropy(shiftedLogits, shiftedLabels, ignore_index: IgnoreIndex).MoveToOuterDisposeScope();
    }
}
