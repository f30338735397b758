using System.Globalization;

namespace OpenQwen2VL.Data.Manifests;

/// <summary>
/// The layout of a training run folder and of an exported model folder, shared by the trainer that writes them and
/// the model loader that reads them.
/// <code>
/// RUN/manifest.json            kind "run": configs, tokenizer, visual tokens, lineage
/// RUN/config.json              the stage config
/// RUN/tokenizer.json           the tokenizer the run was trained with
/// RUN/metrics.jsonl, loss.png
/// RUN/checkpoints/step-NNNNNNNN/{llm,projector[,vision]}.safetensors, optimizer.safetensors, trainer_state.json
/// RUN/final/                   an exported model:
///     manifest.json            kind "model"
///     llm/                     HF Qwen2 folder: config.json, model.safetensors, tokenizer.json (+ side files)
///     vision/                  HF SiglipVisionModel folder: config.json, model.safetensors, preprocessor_config.json
///     projector.safetensors    mlp_projector.0 / mlp_projector.2
/// </code>
/// </summary>
public static class RunLayout
{
    public const string Checkpoints = "checkpoints";
    public const string Final = "final";
    public const string StepPrefix = "step-";
    public const string Tokenizer = "tokenizer.json";
    public const string Config = "config.json";
    public const string Metrics = "metrics.jsonl";
    public const string LlmWeights = "llm.safetensors";
    public const string ProjectorWeights = "projector.safetensors";
    public const string VisionWeights = "vision.safetensors";

    // Exported model folder.
    public const string ModelLlm = "llm";
    public const string ModelVision = "vision";
    public const string ModelProjector = "projector.safetensors";
    public const string HfWeights = "model.safetensors";
    public const string HfPreprocessorConfig = "preprocessor_config.json";

    public static string StepFolderName(int step) => $"{StepPrefix}{step.ToString("D8", CultureInfo.InvariantCulture)}";

    /// <summary>Complete checkpoints of a run (renamed into place when fully written), oldest first.</summary>
    public static IReadOnlyList<(int Step, string Path)> ListCheckpoints(string checkpointsDirectory)
    {
        if (!Directory.Exists(checkpointsDirectory)) return [];
        return Directory.GetDirectories(checkpointsDirectory, StepPrefix + "*")
            .Select(p => (Ok: int.TryParse(Path.GetFileName(p)[StepPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int s), Step: s, Path: p))
            .Where(x => x.Ok).OrderBy(x => x.Step).Select(x => (x.Step, x.Path)).ToList();
    }
}
