using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>
/// SigLIP vision tower (HF SiglipVisionTransformer naming: <c>embeddings</c>, <c>encoder</c>,
/// <c>post_layernorm</c>, <c>head</c>). In backbone mode only blocks 0..N-2 exist and the post-LN and
/// head are not built: the VLM uses the penultimate block's output, so nothing after it is computed.
/// </summary>
public sealed class SiglipVisionTransformer : nn.Module<Tensor, Tensor>
{
    private readonly SiglipVisionEmbeddings embeddings;
    private readonly SiglipEncoder encoder;
    private readonly LayerNorm? post_layernorm;
    private readonly SiglipPoolingHead? head;

    public SiglipVisionConfig Config { get; }
    public bool IsBackbone { get; }

    public SiglipVisionTransformer(SiglipVisionConfig config, bool backbone = false, ScalarType? dtype = null) : base(nameof(SiglipVisionTransformer))
    {
        Config = config;
        IsBackbone = backbone;
        embeddings = new SiglipVisionEmbeddings(config, dtype);
        encoder = new SiglipEncoder(config, backbone ? config.NumHiddenLayers - 1 : config.NumHiddenLayers, dtype);
        if (!backbone)
        {
            post_layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype);
            if (config.UseHead) head = new SiglipPoolingHead(config, dtype);
        }
        RegisterComponents();
    }

    /// <summary>Penultimate-block features [N, P, D] of pixels [N, C, S, S] (blocks after it are not run).</summary>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        return encoder.Forward(embeddings.forward(pixels), 0, Config.NumHiddenLayers - 1).MoveToOuterDisposeScope();
    }

    /// <summary>All outputs of the full tower (not available in backbone mode).</summary>
    public SiglipVisionOutput Forward(Tensor pixels)
    {
        if (IsBackbone) throw new InvalidOperationException("the backbone-mode tower has no last block, post-layernorm or head");
        using var scope = NewDisposeScope();
        var penultimate = forward(pixels);
        var last = post_layernorm!.forward(encoder.Forward(penultimate, Config.NumHiddenLayers - 1, Config.NumHiddenLayers));
        var pooled = head?.forward(last);
        return new SiglipVisionOutput(penultimate.MoveToOuterDisposeScope(), last.MoveToOuterDisposeScope(), pooled?.MoveToOuterDisposeScope());
    }
}
