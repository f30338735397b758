using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Causal attention of packed rows run sequence by sequence: each sequence's own slice of q/k/v goes through
/// scaled_dot_product_attention with is_causal and no mask, and the outputs are concatenated back in place. Equal to
/// attention under <see cref="PackedSegments.AttentionMask"/>, but with an explicit mask torch's CPU SDPA takes its math
/// path over all L² pairs, while without one it takes the fused causal kernel over only each sequence's pairs.
/// The boundaries are host values, so slicing needs no device sync.
/// </summary>
public static class PackedCausalAttention
{
    /// <summary>
    /// Shortest mean sequence length (over a batch's rows, padding runs included) at which attention runs per sequence
    /// rather than under the dense block-diagonal mask: below it, one SDPA call per short sequence costs more than the
    /// mask. `bench packed-attention` (fwd+bwd CPU-s, 3 rows of 512 positions, 4 heads of 16, 2 cores), per sequence
    /// against the mask at sequences of 8/16/32/64/128/512: 0.73x/1.12x/2.22x/2.79x/2.40x/0.95x at load 2, but
    /// 0.14x/0.22x/0.42x/1.09x/1.17x/0.98x at load 11 (each call's fixed cost grows when the cores are oversubscribed):
    /// 32 wins clearly on a machine that is not. Longer rows favour per sequence (the mask's cost grows as L²).
    /// </summary>
    public const double MinMeanRunLength = 32;

    /// <summary>Whether attention over <paramref name="segments"/> is cheaper per sequence than under the dense mask.</summary>
    public static bool RunsPerSequence(PackedSegments segments) => segments.MeanRunLength >= MinMeanRunLength;

    /// <summary>[B, H, L, hd] attention of queries/keys/values [B, H, L, hd] (keys/values already at H heads).</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, PackedSegments segments)
    {
        using var scope = NewDisposeScope();
        // unbind and split_with_sizes are views whose backward is one concatenation, where narrow's backward would
        // fill a zero tensor of the whole input per sequence.
        Tensor[] qRows = q.unbind(0), kRows = k.unbind(0), vRows = v.unbind(0);
        var rows = new Tensor[qRows.Length];
        for (int b = 0; b < rows.Length; b++)
        {
            long[] lengths = segments.RunLengths[b];
            Tensor[] qs = qRows[b].split(lengths, 1), ks = kRows[b].split(lengths, 1), vs = vRows[b].split(lengths, 1);
            var outputs = new Tensor[lengths.Length];
            for (int i = 0; i < lengths.Length; i++)
                outputs[i] = nn.functional.scaled_dot_product_attention(qs[i].unsqueeze(0), ks[i].unsqueeze(0), vs[i].unsqueeze(0), null, 0.0, true);
            rows[b] = outputs.Length == 1 ? outputs[0] : cat(outputs, 2);
        }
        return (rows.Length == 1 ? rows[0] : cat(rows, 0)).MoveToOuterDisposeScope();
    }
}
