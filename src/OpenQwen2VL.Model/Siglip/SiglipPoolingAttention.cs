using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>
/// Cross-attention from query tokens to the patch tokens with torch.nn.MultiheadAttention's parameter layout
/// (<c>in_proj_weight</c>/<c>in_proj_bias</c> stacking q, k, v; <c>out_proj</c>), as HF's pooling head stores it.
/// Written out so the names match exactly and the fused SDPA kernel is used.
/// </summary>
public sealed class SiglipPoolingAttention : nn.Module
{
    private readonly Parameter in_proj_weight;
    private readonly Parameter in_proj_bias;
    private readonly Linear out_proj;
    private readonly int numHeads;
    private readonly long dim;

    public SiglipPoolingAttention(SiglipVisionConfig config, ScalarType? dtype = null) : base(nameof(SiglipPoolingAttention))
    {
        dim = config.HiddenSize;
        numHeads = config.NumAttentionHeads;
        in_proj_weight = new Parameter(empty(3 * dim, dim, dtype: dtype));
        in_proj_bias = new Parameter(zeros(3 * dim, dtype: dtype));
        out_proj = nn.Linear(dim, dim, dtype: dtype);
        using (no_grad()) nn.init.xavier_uniform_(in_proj_weight); // PyTorch MultiheadAttention's init
        RegisterComponents();
    }

    /// <param name="query">[B, Q, D]</param>
    /// <param name="keyValue">[B, P, D]</param>
    public Tensor Forward(Tensor query, Tensor keyValue)
    {
        using var scope = NewDisposeScope();
        long b = query.shape[0], lq = query.shape[1], lk = keyValue.shape[1], hd = dim / numHeads;
        var w = in_proj_weight.chunk(3, 0);
        var bias = in_proj_bias.chunk(3, 0);
        Tensor Heads(Tensor x, int i, long len) => nn.functional.linear(x, w[i], bias[i]).view(b, len, numHeads, hd).transpose(1, 2);
        var attended = nn.functional.scaled_dot_product_attention(Heads(query, 0, lq), Heads(keyValue, 1, lk), Heads(keyValue, 2, lk));
        return out_proj.forward(attended.transpose(1, 2).reshape(b, lq, dim)).MoveToOuterDisposeScope();
    }
}
