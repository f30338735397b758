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
public sealed class MaskedAdamW : IDisposable
{
    public sealed class Slot
    {
        public required string Key { get; init; }
        public required Tensor Param { get; init; }
        public required Tensor ExpAvg { get; init; }
        public required Tensor ExpAvgSq { get; init; }
        public required double WeightDecay { get; init; }
    }

    readonly double _beta1, _beta2;
    // The update's constants as Scalars kept for the optimiser's lifetime: a temporary Scalar (from `t * 0.9`,
    // `1.0 - t`, `add_(eps)`) can be finalised by the GC while libtorch still reads it (see CachedScalars).
    readonly Scalar _eps, _oneMinusBeta1, _oneMinusBeta2, _one;
    public IReadOnlyList<Slot> Slots { get; }
    /// <summary>Number of applied updates (fp32 scalar on the device), for bias correction.</summary>
    public Tensor StepCount { get; }

    /// <param name="parameters">(key, fp32 tensor, weight decay) per parameter</param>
    public MaskedAdamW(IEnumerable<(string Key, Tensor Param, double WeightDecay)> parameters, double beta1, double beta2, double eps)
    {
        _beta1 = beta1; _beta2 = beta2;
        _eps = eps.ToScalar();
        _oneMinusBeta1 = (1.0 - beta1).ToScalar();
        _oneMinusBeta2 = (1.0 - beta2).ToScalar();
        _one = 1.0.ToScalar();
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
        using var lrScalar = lr.ToScalar();
        // Written out as TorchSharp's operators compute them (`1.0 - x` is x.negative().add(1.0)), with every
        // Scalar held; beta^t takes beta as a float64 0-dim tensor, as the implicit double -> Tensor conversion did.
        StepCount.add_(apply, CachedScalars.One);
        var t = StepCount.clamp_min(_one);   // avoids 0/0 before the first applied step; masked anyway
        var bias1 = pow(tensor(_beta1), t).negative().add(_one, CachedScalars.One);
        var bias2Sqrt = pow(tensor(_beta2), t).negative().add(_one, CachedScalars.One).sqrt();
        var stepSize = apply.mul(lrScalar) / bias1;
        var w1 = apply.mul(_oneMinusBeta1);
        var w2 = apply.mul(_oneMinusBeta2);
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
                    decayFactors[s.WeightDecay] = f = apply.mul(lrDecay).negative().add(_one, CachedScalars.One).MoveToOuterDisposeScope();
                }
                s.Param.mul_(f);
            }
            s.ExpAvg.lerp_(g, w1);
            s.ExpAvgSq.lerp_(g.pow(CachedScalars.Two), w2);
            var denom = (s.ExpAvgSq.sqrt() / bias2Sqrt).add_(_eps, CachedScalars.One);
            s.Param.sub_(s.ExpAvg / denom * stepSize);
        }
    }

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
        _eps.Dispose(); _oneMinusBeta1.Dispose(); _oneMinusBeta2.Dispose(); _one.Dispose();
    }
}
