using OpenQwen2VL.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Optim;

/// <summary>
/// Global-norm clipping that stays on the device (torch.nn.utils.clip_grad_norm_ in TorchSharp returns a
/// host double, i.e. a sync every step). Also decides, on the device, whether the step is usable: a NaN/Inf
/// loss or norm gives <c>Apply = 0</c>, and the gradients are zeroed so the masked update is a no-op.
/// </summary>
public static class GradientClipping
{
    /// <returns>the pre-clip global norm and the 0/1 "apply this update" flag, both fp32 scalars</returns>
    public static (Tensor Norm, Tensor Apply) ClipAndCheck(IReadOnlyList<Tensor> grads, double maxNorm, Tensor loss)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var device = grads.Count > 0 ? grads[0].device : loss.device;
        var norm = grads.Count == 0
            ? zeros(1, dtype: ScalarType.Float32, device: device).squeeze()
            : stack(grads.Select(g => g.norm()).ToArray()).norm();
        var finite = norm.isfinite().logical_and(loss.to(ScalarType.Float32).isfinite());
        var apply = finite.to(ScalarType.Float32);
        // Clip coefficient as in PyTorch: max_norm / (norm + 1e-6), capped at 1. Non-finite → 0. Held Scalars (see CachedScalars).
        using var max = maxNorm.ToScalar();
        using var tiny = 1e-6.ToScalar();
        var coef = (max / norm.add(tiny, alpha: CachedScalars.One)).clamp_max(CachedScalars.One);
        coef = where(finite, coef, zeros_like(coef));
        foreach (var g in grads) g.mul_(coef).nan_to_num_(0, 0, 0);
        return (norm.MoveToOuterDisposeScope(), apply.MoveToOuterDisposeScope());
    }
}
