using OpenQwen2VL.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// The text tower of the demo's dual encoders: the mean of embeddings over a caption's hashed tokens
/// (<see cref="CaptionFeaturizer"/>; id 0 is padding), then a 2-layer MLP into the shared space. Word order is
/// lost, which small synthetic captions can afford, and it trains in seconds on a CPU.
/// </summary>
public sealed class BagOfTokensTextEncoder : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed;
    private readonly Sequential proj;

    public BagOfTokensTextEncoder(int buckets, int width, int embedDim) : base(nameof(BagOfTokensTextEncoder))
    {
        embed = nn.Embedding(buckets, width, padding_idx: 0);
        proj = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, embedDim));
        RegisterComponents();
    }

    /// <summary>[B, L] bucket ids, 0-padded → [B, embedDim].</summary>
    public override Tensor forward(Tensor tokenIds)
    {
        using var scope = NewDisposeScope();
        using var one = 1f.ToScalar(); // held over the call: a temporary Scalar can be finalised mid-op (see CachedScalars)
        var mask = tokenIds.ne(CachedScalars.Zero).unsqueeze(-1).to(ScalarType.Float32);
        var summed = (embed.forward(tokenIds) * mask).sum(1);
        var mean = summed / mask.sum(1).clamp_min(one);
        return proj.forward(mean).MoveToOuterDisposeScope();
    }
}
