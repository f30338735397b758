using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>RMSNorm as in HF Qwen2: statistics in float32, result cast back before the learned scale.</summary>
public sealed class Qwen2RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    // A Scalar kept in a field: a temporary one (from `+ eps`) can be finalised by the GC while the native op still
    // reads it (see CachedScalars).
    private readonly Scalar eps;

    public Qwen2RmsNorm(long size, double eps, ScalarType? dtype = null) : base(nameof(Qwen2RmsNorm))
    {
        weight = new Parameter(ones(size, dtype: dtype));
        this.eps = eps.ToScalar();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.to(ScalarType.Float32);
        // pow(2) with a kept exponent: square() and add(Scalar) fill in temporary Scalars (2 and alpha = 1) inside TorchSharp.
        var variance = h.pow(CachedScalars.Two).mean([-1], keepdim: true);
        h = h * variance.add(eps, CachedScalars.One).rsqrt();
        return (weight * h.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
