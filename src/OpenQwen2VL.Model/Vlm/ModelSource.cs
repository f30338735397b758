using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>How a set of weights is stored.</summary>
public enum WeightsFormat
{
    /// <summary>An HF folder (model.safetensors or a sharded index) or one .safetensors file, under HF names.</summary>
    Safetensors,
    /// <summary>A released Open-Qwen2VL / prismatic <c>.pt</c> (torch.save zip: projector, llm_backbone, optional vision_backbone).</summary>
    Prismatic,
    /// <summary>
    /// An HF LLaVA-Qwen folder (LLaVA-Unified's <c>llava_qwen</c>, e.g. MLM-Filter): one safetensors checkpoint holding
    /// the LLM under HF Qwen2 names and the projector as <c>model.mm_projector.0/2</c>.
    /// </summary>
    Llava,
}

/// <summary>Where one part's weights are.</summary>
public sealed record WeightsRef(string Path, WeightsFormat Format)
{
    public override string ToString() => Format == WeightsFormat.Prismatic ? $"{Path} (prismatic)" : Path;
}

/// <summary>
/// Everything needed to build a VLM, resolved from what the user named (<see cref="ModelSourceResolver"/>) but not yet
/// loaded: the configs (read, so a bad folder fails before any compute), where each part's weights are (null = a
/// fresh initialisation: a preset, or the projector of a first pre-training stage), the tokenizer and image transform,
/// and the model's own defaults from its manifest (visual tokens, prompt format). <see cref="VlmLoader.Load"/> turns
/// any source into a model by one code path.
/// </summary>
public sealed record ModelSource
{
    /// <summary>What was resolved, for logs and errors ("run runs/pt, final/").</summary>
    public required string Description { get; init; }
    public required Qwen2Config LlmConfig { get; init; }
    public WeightsRef? LlmWeights { get; init; }
    public required SiglipVisionConfig VisionConfig { get; init; }
    public WeightsRef? VisionWeights { get; init; }
    public WeightsRef? ProjectorWeights { get; init; }
    /// <summary>tokenizer.json; Open-Qwen2VL's special tokens are added on load when missing.</summary>
    public required string TokenizerPath { get; init; }
    /// <summary>A folder whose HF tokenizer side files (tokenizer_config.json, ...) travel with exported models.</summary>
    public string? TokenizerSideFilesDirectory { get; init; }
    /// <summary>The image transform the vision tower expects (size from its config, mean/std from preprocessor_config.json or the manifest).</summary>
    public required ImagePreprocessor Preprocessor { get; init; }
    /// <summary>The model's own visual tokens per image (its manifest); null: the full patch grid.</summary>
    public int? VisualTokens { get; init; }
    /// <summary>The prompt format the model was trained with (its manifest), if known.</summary>
    public string? PromptFormat { get; init; }
    /// <summary>The stage folder the model came from (a model or run manifest), if any.</summary>
    public StageManifest? Manifest { get; init; }
    /// <summary>A built-in preset: every part freshly initialised from a seed.</summary>
    public bool IsPreset => LlmWeights is null && VisionWeights is null;

    /// <summary>The lineage entry naming this model as an input of a stage.</summary>
    public ManifestInput AsInput() => Manifest?.AsInput() ?? new ManifestInput("model", Description);
}
