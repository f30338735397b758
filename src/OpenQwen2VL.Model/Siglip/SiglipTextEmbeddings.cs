using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>Token plus learned absolute position embeddings (HF SiglipTextEmbeddings naming).</summary>
public sealed class SiglipTextEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Embedding token_embedding;
    private readonly Embedding position_embedding;

    public SiglipTextEmbeddings(SiglipTextConfig config) : base(nameof(SiglipTextEmbeddings))
    {
        token_embedding = nn.Embedding(config.VocabSize, config.HiddenSize);
        position_embedding = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        RegisterComponents();
    }

    /// <param name="ids">[B, L] int64, L ≤ max_position_embeddings</param>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        long l = ids.shape[1];
        var positions = position_embedding.weight!.narrow(0, 0, l).unsqueeze(0);
        return token_embedding.forward(ids).add(positions, CachedScalars.One).MoveToOuterDisposeScope();
    }
}
