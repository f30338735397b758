using OpenQwen2VL.Model.Qwen2;
using TorchSharp;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// Holds the LM under the name <c>llm</c>, so the VLM's parameter names are prismatic's
/// (<c>llm_backbone.llm.model...</c>), the layout of the released Open-Qwen2VL checkpoints.
/// </summary>
public sealed class LlmBackbone : torch.nn.Module
{
    private readonly Qwen2ForCausalLM llm;

    public LlmBackbone(Qwen2Config config, torch.ScalarType? dtype = null) : base(nameof(LlmBackbone))
    {
        llm = new Qwen2ForCausalLM(config, dtype);
        RegisterComponents();
    }

    public Qwen2ForCausalLM Llm => llm;
}
