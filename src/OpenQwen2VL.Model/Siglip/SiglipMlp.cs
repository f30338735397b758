using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>fc1 → GELU (tanh approximation for SigLIP's gelu_pytorch_tanh) → fc2 (HF SiglipMLP naming).</summary>
public sealed class SiglipMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly GELU.Approximate approximate;

    public SiglipMlp(SiglipEncoderConfig config, ScalarType? dtype = null) : base(nameof(SiglipMlp))
    {
        fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize, dtype: dtype);
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize, dtype: dtype);
        approximate = config.HiddenAct == "gelu_pytorch_tanh" ? GELU.Approximate.tanh : GELU.Approximate.none;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc2.forward(nn.functional.gelu(fc1.forward(x), approximate)).MoveToOuterDisposeScope();
    }
}
