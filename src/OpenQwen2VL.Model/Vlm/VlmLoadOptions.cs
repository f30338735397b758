using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// Where the parts of an Open-Qwen2VL model come from. The LLM folder always gives config.json (and by default
/// tokenizer.json); its weights come from the folder unless <see cref="PrismaticPath"/> is set, which then also
/// gives the projector. The vision tower always comes from its own SigLIP folder (the released checkpoints leave it out).
/// </summary>
public sealed record VlmLoadOptions
{
    /// <summary>HF Qwen2/Qwen2.5 folder: config.json, model.safetensors or a sharded index, tokenizer.json.</summary>
    public required string LlmPath { get; init; }
    /// <summary>HF SigLIP folder (SiglipModel or SiglipVisionModel config.json + weights, optional preprocessor_config.json).</summary>
    public required string VisionPath { get; init; }
    /// <summary>Projector safetensors in prismatic naming (<c>mlp_projector.0/2</c>); exclusive with <see cref="PrismaticPath"/>.</summary>
    public string? ProjectorPath { get; init; }
    /// <summary>Released Open-Qwen2VL <c>prismatic-checkpoint.pt</c> (projector + LLM), or a run folder holding one.</summary>
    public string? PrismaticPath { get; init; }
    /// <summary>tokenizer.json; default: the one in <see cref="LlmPath"/>.</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>Floating dtype of every parameter (float32, bfloat16, float16).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public Device Device { get; init; } = CPU;
    /// <summary>Pooled grid side of the projector; default the full patch grid (no pooling, the SFT setting).</summary>
    public int? PoolSide { get; init; }
}
