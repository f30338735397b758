using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>Bidirectional multi-head self-attention with biases (HF SiglipAttention naming), fused SDPA.</summary>
public sealed class SiglipAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear out_proj;
    private readonly int numHeads;
    private readonly int headDim;

    public SiglipAttention(SiglipEncoderConfig config, ScalarType? dtype = null) : base(nameof(SiglipAttention))
    {
        numHeads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        q_proj = nn.Linear(config.HiddenSize, config.HiddenSize, dtype: dtype);
        k_proj = nn.Linear(config.HiddenSize, config.HiddenSize, dtype: dtype);
        v_proj = nn.Linear(config.HiddenSize, config.HiddenSize, dtype: dtype);
        out_proj = nn.Linear(config.HiddenSize, config.HiddenSize, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1];
        Tensor Heads(Linear proj) => proj.forward(x).view(b, l, numHeads, headDim).transpose(1, 2);
        var attended = nn.functional.scaled_dot_product_attention(Heads(q_proj), Heads(k_proj), Heads(v_proj));
        return out_proj.forward(attended.transpose(1, 2).reshape(b, l, numHeads * headDim)).MoveToOuterDisposeScope();
    }
}
