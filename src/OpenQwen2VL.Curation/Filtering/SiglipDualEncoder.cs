using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Siglip;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// A dual encoder whose image tower is the real SigLIP vision transformer of OpenQwen2VL.Model (all blocks,
/// post-layernorm and attention-pooling head, HF names under <c>vision_model.</c>) and whose text tower is a
/// <see cref="BagOfTokensTextEncoder"/> into the tower's width. Trained with the sigmoid loss it gives a vision
/// tower that a VLM can load as it loads a published SigLIP: the demo's stand-in for SigLIP, which nothing has to be
/// downloaded for.
/// </summary>
public sealed class SiglipDualEncoder : nn.Module, IDualEncoder
{
    private readonly SiglipVisionModel vision;
    private readonly BagOfTokensTextEncoder text;
    private readonly Parameter logit_scale;
    private readonly Parameter logit_bias;

    public SiglipDualEncoder(SiglipVisionConfig vision, int textBuckets = 4096, int textWidth = 64) : base(nameof(SiglipDualEncoder))
    {
        if (!vision.UseHead) throw new ArgumentException("the SigLIP dual encoder pools with the tower's attention head (vision_use_head)");
        this.vision = new SiglipVisionModel(vision, backbone: false);
        text = new BagOfTokensTextEncoder(textBuckets, textWidth, vision.HiddenSize);
        // SigLIP's initialisation: temperature 10, bias -10 (most pairs in a batch are negatives).
        logit_scale = nn.Parameter(tensor(MathF.Log(10f)));
        logit_bias = nn.Parameter(tensor(-10f));
        RegisterComponents();
    }

    /// <summary>The vision tower, with HF parameter names (<c>vision_model.*</c>).</summary>
    public SiglipVisionModel Vision => vision;

    public Tensor LogitScale => logit_scale;
    public Tensor LogitBias => logit_bias;

    /// <summary>The head's attention-pooled output, [B, hidden].</summary>
    public Tensor EncodeImages(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        using var output = vision.Tower.Forward(pixels);
        return output.PoolerOutput!.alias().MoveToOuterDisposeScope();
    }

    public Tensor EncodeTexts(Tensor tokenIds) => text.forward(tokenIds);

    public IEnumerable<Parameter> TrainableParameters() => parameters();

    public void SetTraining(bool training) => train(training);

    public void Save(string path) => save(path);

    /// <summary>Writes the vision tower alone as safetensors with HF names, the file a VLM's vision backbone loads.</summary>
    public long SaveVisionTower(string path) => SafetensorsExport.Save(vision, path);
}
