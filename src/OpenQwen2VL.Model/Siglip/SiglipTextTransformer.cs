using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>
/// SigLIP text tower (HF SiglipTextTransformer naming: <c>embeddings</c>, <c>encoder</c>,
/// <c>final_layer_norm</c>, <c>head</c>): bidirectional blocks, pooled at the LAST token, then a linear head.
/// </summary>
public sealed class SiglipTextTransformer : nn.Module<Tensor, Tensor>
{
    private readonly SiglipTextEmbeddings embeddings;
    private readonly SiglipEncoder encoder;
    private readonly LayerNorm final_layer_norm;
    private readonly Linear head;

    public SiglipTextConfig Config { get; }

    public SiglipTextTransformer(SiglipTextConfig config) : base(nameof(SiglipTextTransformer))
    {
        Config = config;
        embeddings = new SiglipTextEmbeddings(config);
        encoder = new SiglipEncoder(config, config.NumHiddenLayers);
        final_layer_norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        head = nn.Linear(config.HiddenSize, config.ProjectionSize);
        RegisterComponents();
    }

    /// <returns>[B, projection_size] pooled text representation (not normalised)</returns>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var h = final_layer_norm.forward(encoder.Forward(embeddings.forward(ids), 0, encoder.Count));
        return head.forward(h.select(1, h.shape[1] - 1)).MoveToOuterDisposeScope();
    }
}
