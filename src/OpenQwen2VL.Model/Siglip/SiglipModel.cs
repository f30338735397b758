using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>
/// SigLIP dual encoder (HF SiglipModel naming: <c>vision_model</c>, <c>text_model</c>, <c>logit_scale</c>,
/// <c>logit_bias</c>): L2-normalised embeddings and sigmoid-loss logits img·txtᵀ·exp(scale) + bias.
/// </summary>
public sealed class SiglipModel : nn.Module
{
    private readonly SiglipVisionTransformer vision_model;
    private readonly SiglipTextTransformer text_model;
    private readonly Parameter logit_scale;
    private readonly Parameter logit_bias;

    public SiglipModel(SiglipVisionConfig vision, SiglipTextConfig text) : base(nameof(SiglipModel))
    {
        if (!vision.UseHead) throw new ArgumentException("a SiglipModel needs the vision pooling head");
        vision_model = new SiglipVisionTransformer(vision);
        text_model = new SiglipTextTransformer(text);
        // HF's initial values, as Scalars held over the call (a temporary one can be finalised mid-op, see CachedScalars)
        using var initialScale = Math.Log(10.0).ToScalar();
        using var initialBias = (-10.0).ToScalar();
        logit_scale = new Parameter(full(1, initialScale));
        logit_bias = new Parameter(full(1, initialBias));
        RegisterComponents();
    }

    public static SiglipModel Load(string configPath) => new(SiglipVisionConfig.Load(configPath), SiglipTextConfig.Load(configPath));

    public SiglipVisionTransformer VisionModel => vision_model;
    public SiglipTextTransformer TextModel => text_model;
    /// <summary>Log temperature of the sigmoid loss, [1].</summary>
    public Tensor LogitScale => logit_scale;
    /// <summary>Bias of the sigmoid loss, [1].</summary>
    public Tensor LogitBias => logit_bias;

    /// <summary>Unit-length image embeddings [N, D] from pixels [N, C, S, S].</summary>
    public Tensor ImageEmbeds(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var vision = vision_model.Forward(pixels);
        return Normalise(vision.PoolerOutput!).MoveToOuterDisposeScope();
    }

    /// <summary>Unit-length text embeddings [M, D] from ids [M, L].</summary>
    public Tensor TextEmbeds(Tensor ids)
    {
        using var scope = NewDisposeScope();
        return Normalise(text_model.forward(ids)).MoveToOuterDisposeScope();
    }

    /// <summary>logits_per_image [N, M] for unit-length embeddings.</summary>
    public Tensor LogitsPerImage(Tensor imageEmbeds, Tensor textEmbeds)
    {
        using var scope = NewDisposeScope();
        return (imageEmbeds.matmul(textEmbeds.t()) * logit_scale.exp()).add(logit_bias, CachedScalars.One).MoveToOuterDisposeScope();
    }

    private static Tensor Normalise(Tensor x) => x / x.pow(CachedScalars.Two).sum([-1], keepdim: true).sqrt();
}
