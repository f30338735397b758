using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>RMSNorm as in HF Qwen2: statistics in float32, result cast back before the learned scale.</summary>
public sealed class Qwen2RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double eps;

    public Qwen2RmsNorm(long size, double eps, ScalarType? dtype = null) : base(nameof(Qwen2RmsNorm))
    {
        weight = new Parameter(ones(size, dtype: dtype));
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.to(ScalarType.Float32);
        // Held Scalars (see CachedScalars): square() and add(Scalar) would fill in temporary ones (2, alpha = 1).
        using var epsilon = eps.ToScalar();
        var variance = h.pow(CachedScalars.Two).mean([-1], keepdim: true);
        h = h * variance.add(epsilon, alpha: CachedScalars.One).rsqrt();
        return (weight * h.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
