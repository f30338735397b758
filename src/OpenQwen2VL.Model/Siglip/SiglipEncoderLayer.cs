using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>Pre-LayerNorm transformer block (HF SiglipEncoderLayer naming).</summary>
public sealed class SiglipEncoderLayer : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm layer_norm1;
    private readonly SiglipAttention self_attn;
    private readonly LayerNorm layer_norm2;
    private readonly SiglipMlp mlp;

    public SiglipEncoderLayer(SiglipEncoderConfig config, ScalarType? dtype = null) : base(nameof(SiglipEncoderLayer))
    {
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype);
        self_attn = new SiglipAttention(config, dtype);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype);
        mlp = new SiglipMlp(config, dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // add(…, One): the `+` operator fills in a temporary alpha Scalar that can be finalised mid-op (see CachedScalars).
        var h = x.add(self_attn.forward(layer_norm1.forward(x)), CachedScalars.One);
        return h.add(mlp.forward(layer_norm2.forward(h)), CachedScalars.One).MoveToOuterDisposeScope();
    }
}
