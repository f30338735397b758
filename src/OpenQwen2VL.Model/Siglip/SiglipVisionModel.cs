using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>
/// The vision tower under the HF prefix <c>vision_model.</c>, so its parameter names equal the keys of a
/// SiglipModel or SiglipVisionModel checkpoint (a SiglipModel file's text tower is simply not read).
/// </summary>
public sealed class SiglipVisionModel : nn.Module<Tensor, Tensor>
{
    private readonly SiglipVisionTransformer vision_model;

    public SiglipVisionModel(SiglipVisionConfig config, bool backbone, ScalarType? dtype = null) : base(nameof(SiglipVisionModel))
    {
        vision_model = new SiglipVisionTransformer(config, backbone, dtype);
        RegisterComponents();
    }

    public SiglipVisionTransformer Tower => vision_model;
    public SiglipVisionConfig Config => vision_model.Config;

    /// <summary>Penultimate-block features [N, P, D].</summary>
    public override Tensor forward(Tensor pixels) => vision_model.forward(pixels);
}
