using OpenQwen2VL.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Optim;

/// <summary>
/// AdamW (decoupled weight decay, Loshchilov and Hutter) over fp32 master weights, written here rather than
/// using torch.optim.AdamW because (1) it must update masters that are not the model's parameters, (2) its
/// state must go into our safetensors checkpoints exactly, and (3) it takes a device-side 0/1
/// <c>apply</c> flag so a NaN/Inf step is skipped without a host sync. With apply = 1 it is the textbook
/// update; with apply = 0 every tensor is left bit-identical (gradients were zeroed by the clipper).
/// </summary>
public sealed class MaskedAdamW : IMasterOptimizer
{
    public sealed class Slot
    {
        public required string Key { get; init; }
        public required Tensor Param { get; init; }
        public required Tensor ExpAvg { get; init; }
        public required Tensor ExpAvgSq { get; init; }
        public required double WeightDecay { get; init; }
    }

    readonly double _beta1, _beta2, _eps;
    public IReadOnlyList<Slot> Slots { get; }
    /// <summary>Number of applied updates (fp32 scalar on the device), for bias correction.</summary>
    public Tensor StepCount { get; }

    /// <param name="parameters">(key, fp32 tensor, weight decay) per parameter</param>
    public MaskedAdamW(IEnumerable<(string Key, Tensor Param, double WeightDecay)> parameters, double beta1, double beta2, double eps)
    {
        _beta1 = beta1; _beta2 = beta2; _eps = eps;
        var slots = new List<Slot>();
        foreach (var (key, p, wd) in parameters)
        {
            if (p.dtype != ScalarType.Float32) throw new ArgumentException($"{key}: AdamW state is fp32, got {p.dtype}");
            slots.Add(new Slot
            {
                Key = key, Param = p, WeightDecay = wd,
                ExpAvg = zeros_like(p).DetachFromDisposeScope(),
                ExpAvgSq = zeros_like(p).DetachFromDisposeScope(),
            });
        }
        Slots = slots;
        var device = slots.Count > 0 ? slots[0].Param.device : CPU;
        StepCount = tensor(0f, device: device).DetachFromDisposeScope();
    }

    /// <param name="grads">one fp32 gradient per slot, same order</param>
    /// <param name="lr">this step's learning rate</param>
    /// <param name="apply">fp32 scalar, 1 to update, 0 to leave everything unchanged</param>
    public void Step(IReadOnlyList<Tensor> grads, double lr, Tensor apply)
    {
        if (grads.Count != Slots.Count) throw new ArgumentException("one gradient per parameter expected");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        if (UseFusedCpuKernel && apply.device_type == DeviceType.CPU && Slots.All(s => FusedCpuAdamW.Supports(s.Param))
            && grads.All(FusedCpuAdamW.Supports))
        {
            FusedStep(grads, lr, apply);
            return;
        }
        // Every Scalar held over its calls (see CachedScalars): `1 - x` is written -(x - One), since TorchSharp computes
        // `One - x` with a temporary alpha. beta^t takes beta as a float64 0-dim tensor.
        using var lrScalar = lr.ToScalar();
        using var eps = _eps.ToScalar();
        using var oneMinusBeta1 = (1.0 - _beta1).ToScalar();
        using var oneMinusBeta2 = (1.0 - _beta2).ToScalar();
        StepCount.add_(apply, alpha: CachedScalars.One);
        var t = StepCount.clamp_min(CachedScalars.One);   // avoids 0/0 before the first applied step; masked anyway
        var bias1 = -(pow(tensor(_beta1), t) - CachedScalars.One);            // 1 - beta1^t
        var bias2Sqrt = (-(pow(tensor(_beta2), t) - CachedScalars.One)).sqrt(); // sqrt(1 - beta2^t)
        var stepSize = apply * lrScalar / bias1;
        var w1 = apply * oneMinusBeta1;
        var w2 = apply * oneMinusBeta2;
        var decayFactors = new Dictionary<double, Tensor>();
        for (int i = 0; i < Slots.Count; i++)
        {
            using var inner = NewDisposeScope();
            var s = Slots[i];
            var g = grads[i];
            if (s.WeightDecay != 0)
            {
                if (!decayFactors.TryGetValue(s.WeightDecay, out var f))
                {
                    using var lrDecay = (lr * s.WeightDecay).ToScalar();
                    decayFactors[s.WeightDecay] = f = (-(apply * lrDecay - CachedScalars.One)).MoveToOuterDisposeScope(); // 1 - lr·wd·apply
                }
                s.Param.mul_(f);
            }
            s.ExpAvg.lerp_(g, w1);
            s.ExpAvgSq.lerp_(g.pow(CachedScalars.Two), w2);
            var denom = (s.ExpAvgSq.sqrt() / bias2Sqrt).add_(eps, alpha: CachedScalars.One);
            s.Param.sub_(s.ExpAvg / denom * stepSize);
        }
    }

    /// <summary>
    /// Whether fp32 contiguous CPU tensors are updated by <see cref="FusedCpuAdamW"/> (one pass per element) rather than
    /// by tensor ops (the path every other device takes). Off only to compare the two.
    /// </summary>
    public bool UseFusedCpuKernel { get; init; } = true;

    /// <summary>
    /// The CPU path: the same coefficients as the tensor path below, computed here in the dtypes its 0-dim tensors give
    /// them (the bias corrections in float64, the rest in float32). Reading apply and the step count costs no device
    /// sync: they live in CPU memory.
    /// </summary>
    void FusedStep(IReadOnlyList<Tensor> grads, double lr, Tensor apply)
    {
        StepCount.add_(apply, alpha: CachedScalars.One);
        float a = apply.ToSingle();
        double t = Math.Max(StepCount.ToSingle(), 1f);
        double bias1 = 1 - Math.Pow(_beta1, t), bias2Sqrt = Math.Sqrt(1 - Math.Pow(_beta2, t));
        var c = new FusedCpuAdamW.Coefficients(
            W1: a * (float)(1.0 - _beta1),
            W2: a * (float)(1.0 - _beta2),
            Bias2Sqrt: (float)bias2Sqrt,
            Eps: (float)_eps,
            StepSize: (float)(a * (float)lr / bias1));
        var decay = Slots.Select(s => s.WeightDecay == 0 ? (float?)null : 1f - a * (float)(lr * s.WeightDecay)).ToList();
        FusedCpuAdamW.Step(Slots, grads, c, decay);
    }

    public long StateBytes => Slots.Sum(s => (s.ExpAvg.numel() + s.ExpAvgSq.numel()) * sizeof(float));

    /// <summary>State tensors for a checkpoint: exp_avg./exp_avg_sq. + key, and "step".</summary>
    public IEnumerable<(string Name, Tensor Tensor)> StateTensors()
    {
        foreach (var s in Slots)
        {
            yield return ($"exp_avg.{s.Key}", s.ExpAvg);
            yield return ($"exp_avg_sq.{s.Key}", s.ExpAvgSq);
        }
        yield return ("step", StepCount);
    }

    /// <summary>Restores state saved by <see cref="StateTensors"/>; every slot must be present.</summary>
    public void LoadState(Func<string, Tensor?> read)
    {
        using var _ = no_grad();
        foreach (var (name, t) in StateTensors().ToList())
        {
            using var src = read(name) ?? throw new InvalidDataException($"optimizer state lacks '{name}'");
            if (!src.shape.SequenceEqual(t.shape)) throw new InvalidDataException($"optimizer state '{name}': shape mismatch");
            t.copy_(src);
        }
    }

    public void Dispose()
    {
        foreach (var s in Slots) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        StepCount.Dispose();
    }
}
