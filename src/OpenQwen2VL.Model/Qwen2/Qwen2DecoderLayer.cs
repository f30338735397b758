using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then + mlp(norm(x)) (HF Qwen2DecoderLayer naming).</summary>
public sealed class Qwen2DecoderLayer : nn.Module
{
    private readonly Qwen2RmsNorm input_layernorm;
    private readonly Qwen2Attention self_attn;
    private readonly Qwen2RmsNorm post_attention_layernorm;
    private readonly Qwen2Mlp mlp;

    public Qwen2DecoderLayer(Qwen2Config config, ScalarType? dtype = null) : base(nameof(Qwen2DecoderLayer))
    {
        input_layernorm = new Qwen2RmsNorm(config.HiddenSize, config.RmsNormEps, dtype);
        self_attn = new Qwen2Attention(config, dtype);
        post_attention_layernorm = new Qwen2RmsNorm(config.HiddenSize, config.RmsNormEps, dtype);
        mlp = new Qwen2Mlp(config, dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, IKeyValueCache? cache, int layerIndex, Tensor? attentionMask = null,
        PackedSegments? segments = null)
    {
        using var scope = NewDisposeScope();
        // add(…, One): the `+` operator fills in a temporary alpha Scalar that can be finalised mid-op (see CachedScalars).
        var h = x.add(self_attn.Forward(input_layernorm.forward(x), cos, sin, cache, layerIndex, attentionMask, segments), CachedScalars.One);
        h = h.add(mlp.forward(post_attention_layernorm.forward(h)), CachedScalars.One);
        return h.MoveToOuterDisposeScope();
    }
}
