using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Projector;

/// <summary>
/// Vision-to-language projector in prismatic naming (<c>mlp_projector.0</c> Linear Dv→Dl, exact-erf GELU,
/// <c>mlp_projector.2</c> Linear Dl→Dl), preceded by adaptive average pooling of the square patch grid to
/// <see cref="PoolSide"/>² tokens (Open-Qwen2VL: 12x12 = 144 for pre-training, the full 27x27 grid for SFT;
/// the weights do not depend on it).
/// </summary>
public sealed class MlpProjector : nn.Module<Tensor, Tensor>
{
    private readonly Sequential mlp_projector;

    /// <summary>Side of the pooled token grid; equal to the patch grid side means no pooling.</summary>
    public int PoolSide { get; set; }

    public MlpProjector(long visionDim, long llmDim, int poolSide, ScalarType? dtype = null) : base(nameof(MlpProjector))
    {
        if (poolSide <= 0) throw new ArgumentOutOfRangeException(nameof(poolSide), "pool side must be positive");
        mlp_projector = nn.Sequential(nn.Linear(visionDim, llmDim, dtype: dtype), nn.GELU(), nn.Linear(llmDim, llmDim, dtype: dtype));
        PoolSide = poolSide;
        RegisterComponents();
    }

    /// <param name="features">[N, P, Dv] patch features, P a square number, patches row-major</param>
    /// <returns>[N, PoolSide², Dl]</returns>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        return mlp_projector.forward(Pool(features, PoolSide)).MoveToOuterDisposeScope();
    }

    /// <summary>Adaptive average pooling of the √P x √P patch grid to side x side (identity when equal).</summary>
    public static Tensor Pool(Tensor features, int side)
    {
        long n = features.shape[0], p = features.shape[1], d = features.shape[2];
        long grid = (long)Math.Round(Math.Sqrt(p));
        if (grid * grid != p) throw new ArgumentException($"{p} patches do not form a square grid");
        if (side > grid) throw new ArgumentException($"pool side {side} exceeds the {grid}x{grid} patch grid");
        if (side == grid) return features.alias();
        using var scope = NewDisposeScope();
        var map = features.transpose(1, 2).reshape(n, d, grid, grid);
        var pooled = nn.functional.adaptive_avg_pool2d(map, [side, side]);
        return pooled.flatten(2).transpose(1, 2).MoveToOuterDisposeScope();
    }
}
