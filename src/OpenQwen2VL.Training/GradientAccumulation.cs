using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training.Distributed;
using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Precision;
using OpenQwen2VL.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training;

/// <summary>
/// Forward/backward of all micro-batches of one optimiser step into the fp32 gradient buffers. Each micro
/// loss is the summed token loss divided by the target tokens of the whole global batch (all
/// micro-batches, all ranks), so the gradient is the global mean whatever the split: 1x8 and 4x2 agree.
/// </summary>
public static class GradientAccumulation
{
    /// <returns>summed token loss (after all-reduce) and the global target-token count as fp32 scalars</returns>
    /// <param name="batches">micro-batches as the loader gives them (CPU); the model moves what it needs</param>
    /// <param name="device">the model's device</param>
    public static (Tensor LossSum, Tensor Targets) Run(ITrainableModel model, MasterWeights masters, IReadOnlyList<VlmBatch> batches, ICollective collective, Device device)
    {
        using var scope = NewDisposeScope();
        var targets = zeros(1, dtype: ScalarType.Int64, device: device).squeeze();
        foreach (var b in batches) targets.add_(b.Labels[.., 1..].ne(CachedScalars.IgnoreIndex).sum().to(device), CachedScalars.One);
        collective.AllReduceSum([targets]);
        var denom = targets.to(ScalarType.Float32).clamp_min(CachedScalars.One);
        var lossSum = zeros(1, dtype: ScalarType.Float32, device: device).squeeze();
        foreach (var b in batches)
        {
            using var micro = NewDisposeScope();
            var (ls, _) = model.Forward(b);
            (ls / denom).backward();
            masters.AccumulateGrads();
            lossSum.add_(ls.detach(), CachedScalars.One);
        }
        collective.AllReduceSum([.. masters.Grads(), lossSum]);
        return (lossSum.MoveToOuterDisposeScope(), denom.MoveToOuterDisposeScope());
    }
}
