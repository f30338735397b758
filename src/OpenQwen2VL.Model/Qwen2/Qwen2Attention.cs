using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Causal grouped-query self-attention with q/k/v bias and rotary positions (HF Qwen2Attention naming).
/// TorchSharp's scaled_dot_product_attention has no GQA switch, so key/value heads are repeated to the
/// query head count (same as HF's repeat_kv).
/// </summary>
public sealed class Qwen2Attention : nn.Module
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly int numHeads;
    private readonly int numKvHeads;
    private readonly int headDim;

    public Qwen2Attention(Qwen2Config config, ScalarType? dtype = null) : base(nameof(Qwen2Attention))
    {
        numHeads = config.NumAttentionHeads;
        numKvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        q_proj = nn.Linear(config.HiddenSize, numHeads * headDim, hasBias: true, dtype: dtype);
        k_proj = nn.Linear(config.HiddenSize, numKvHeads * headDim, hasBias: true, dtype: dtype);
        v_proj = nn.Linear(config.HiddenSize, numKvHeads * headDim, hasBias: true, dtype: dtype);
        o_proj = nn.Linear(numHeads * headDim, config.HiddenSize, hasBias: false, dtype: dtype);
        RegisterComponents();
    }

    /// <param name="x">[B, L, D] hidden states</param>
    /// <param name="cos">[B, L, headDim] rotary cosines for these positions</param>
    /// <param name="sin">[B, L, headDim] rotary sines</param>
    /// <param name="cache">when given, this step's keys/values are appended and attention covers all cached positions</param>
    /// <param name="layerIndex">slot of this layer in <paramref name="cache"/></param>
    /// <param name="attentionMask">bool [B, 1, L, K] (true: may attend) over the K = cached + new keys, for batches with
    /// padding; null: plain causal attention over every key</param>
    /// <param name="segments">packed rows (no cache, no mask): causal attention inside each of their sequences</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, IKeyValueCache? cache, int layerIndex, Tensor? attentionMask = null,
        PackedSegments? segments = null)
    {
        if (segments is not null && (cache is not null || attentionMask is not null))
            throw new ArgumentException("packed segments take neither a cache nor a mask");
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1];
        var q = q_proj.forward(x).view(b, l, numHeads, headDim).transpose(1, 2);
        var k = k_proj.forward(x).view(b, l, numKvHeads, headDim).transpose(1, 2);
        var v = v_proj.forward(x).view(b, l, numKvHeads, headDim).transpose(1, 2);
        q = Qwen2RotaryEmbedding.Apply(q, cos, sin);
        k = Qwen2RotaryEmbedding.Apply(k, cos, sin);

        long past = cache?.LayerLength(layerIndex) ?? 0;
        if (cache is not null) (k, v) = cache.Append(layerIndex, k, v);
        if (numKvHeads != numHeads)
        {
            k = k.repeat_interleave(numHeads / numKvHeads, dim: 1);
            v = v.repeat_interleave(numHeads / numKvHeads, dim: 1);
        }

        Tensor attended;
        if (segments is not null)
            attended = PackedCausalAttention.Attend(q, k, v, segments);
        else if (attentionMask is not null)
            attended = nn.functional.scaled_dot_product_attention(q, k, v, attentionMask, 0.0, false);
        else if (past == 0)
            attended = nn.functional.scaled_dot_product_attention(q, k, v, null, 0.0, true);
        else if (l == 1)
            attended = nn.functional.scaled_dot_product_attention(q, k, v, null, 0.0, false);
        else
        {
            // Several new positions after a cached prefix: query i sees keys 0..past+i (bottom-right causal).
            var mask = ones(l, past + l, dtype: ScalarType.Bool, device: x.device).tril(past);
            attended = nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, false);
        }
        var merged = attended.transpose(1, 2).reshape(b, l, numHeads * headDim);
        return o_proj.forward(merged).MoveToOuterDisposeScope();
    }
}
