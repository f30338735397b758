using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>
/// Multihead attention pooling (HF SiglipMultiheadAttentionPoolingHead naming: <c>probe</c>, <c>attention</c>,
/// <c>layernorm</c>, <c>mlp</c>): a learned probe attends over all patches, then a residual MLP.
/// </summary>
public sealed class SiglipPoolingHead : nn.Module<Tensor, Tensor>
{
    private readonly Parameter probe;
    private readonly SiglipPoolingAttention attention;
    private readonly LayerNorm layernorm;
    private readonly SiglipMlp mlp;

    public SiglipPoolingHead(SiglipVisionConfig config, ScalarType? dtype = null) : base(nameof(SiglipPoolingHead))
    {
        using var scale = Math.Sqrt(config.HiddenSize).ToScalar(); // held over the call (see CachedScalars)
        probe = new Parameter(randn(1, 1, config.HiddenSize, dtype: dtype).div_(scale));
        attention = new SiglipPoolingAttention(config, dtype);
        layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype);
        mlp = new SiglipMlp(config, dtype);
        RegisterComponents();
    }

    /// <param name="hidden">[B, P, D] final patch states</param>
    /// <returns>[B, D] pooled image representation</returns>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var query = probe.expand(hidden.shape[0], -1, -1);
        var pooled = attention.Forward(query, hidden);
        pooled = pooled.add(mlp.forward(layernorm.forward(pooled)), CachedScalars.One);
        return pooled.select(1, 0).MoveToOuterDisposeScope();
    }
}
