using OpenQwen2VL.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// SigLIP's sigmoid loss (Zhai et al. 2023): every image-text pair of the batch is a binary problem,
/// positive on the diagonal, negative elsewhere:
/// L = -1/B Σ_i Σ_j log σ(z_ij · (exp(t) · x̂_i·ŷ_j + b)), z_ij = +1 if i = j else -1.
/// </summary>
public static class SigmoidPairwiseLoss
{
    /// <summary>log(100): the largest temperature the loss uses.</summary>
    public static readonly float MaxLogitScale = MathF.Log(100f);

    public static Tensor Compute(Tensor imageEmbeddings, Tensor textEmbeddings, Tensor logitScale, Tensor logitBias)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.normalize(imageEmbeddings, dim: -1);
        var y = nn.functional.normalize(textEmbeddings, dim: -1);
        // Scale and bias as 1-element tensors (not 0-dim "scalars"), the temperature capped at 100 as in CLIP/SigLIP.
        // Explicit Scalars and alphas throughout: `+`, `* 2`, `- 1` and `/ n` would make temporary ones (see CachedScalars).
        var logits = (x.matmul(y.t()) * logitScale.reshape(1).clamp_max(CachedScalars.LogOf100).exp()).add(logitBias.reshape(1), CachedScalars.One);
        long n = logits.shape[0];
        using var count = n.ToScalar();
        var labels = eye(n, device: logits.device).mul(CachedScalars.Two).sub(CachedScalars.One);
        return (-nn.functional.logsigmoid(labels * logits).sum()).div(count).MoveToOuterDisposeScope();
    }
}
