using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Rotary position embedding in HF's "rotate_half" layout: the head dimension is split in two halves
/// that rotate together (not interleaved pairs). Frequencies are recomputed per call on the positions'
/// device (a few floats), so the model holds no buffers and moves freely between devices.
/// </summary>
public static class Qwen2RotaryEmbedding
{
    /// <summary>cos and sin of shape [B, L, headDim] in float32 for int64 positions [B, L].</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(Tensor positions, int headDim, double theta)
    {
        using var scope = NewDisposeScope();
        // Same float32 arithmetic as HF: inv_freq = 1 / theta^(2i/d); freqs = positions * inv_freq.
        // Scalars held to the end of the method (a temporary one can be finalised mid-op, see CachedScalars).
        using var dim = headDim.ToScalar();
        var exponent = arange(CachedScalars.Zero, dim, CachedScalars.Two, dtype: ScalarType.Int64, device: positions.device)
            .to(ScalarType.Float32).div(dim);
        var invFreq = pow(tensor(theta, dtype: ScalarType.Float32, device: positions.device), exponent).reciprocal();
        var freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * invFreq; // [B, L, d/2]
        var emb = cat([freqs, freqs], -1);
        return (emb.cos().MoveToOuterDisposeScope(), emb.sin().MoveToOuterDisposeScope());
    }

    /// <summary>Rotates [B, H, L, D] query or key tensors with cos/sin [B, L, D].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var c = cos.unsqueeze(1).to(x.dtype);
        var s = sin.unsqueeze(1).to(x.dtype);
        return (x * c).add(RotateHalf(x) * s, CachedScalars.One).MoveToOuterDisposeScope();
    }

    private static Tensor RotateHalf(Tensor x)
    {
        var half = x.shape[^1] / 2;
        var x1 = x[TensorIndex.Ellipsis, TensorIndex.Slice(0, half)];
        var x2 = x[TensorIndex.Ellipsis, TensorIndex.Slice(half)];
        return cat([-x2, x1], -1);
    }
}
