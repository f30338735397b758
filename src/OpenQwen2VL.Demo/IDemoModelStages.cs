using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Demo;

/// <summary>The packed pre-training data: where it is and how well it was packed.</summary>
public sealed record PackedData(string Location, int Sequences, int Samples, int Capacity, long Tokens, double FillRatio);

/// <summary>A training run (its final/ is the model) with its loss curve (one value per logged step), throughput and loss plot.</summary>
public sealed record TrainedModel(string RunDir, IReadOnlyList<double> Losses, double TokensPerSecond, double Seconds, string? LossPlotPng = null);

/// <summary>The stage a model stage could not run, and why (e.g. its engine is not merged).</summary>
public sealed record StageNotRun(string Stage, string Reason);

/// <summary>
/// The demo stages that need the engines: packing, the training engine, the VLM. One method each, so each
/// can be wired on its own; a method returns null (and says why in <paramref name="notRun"/>) when it cannot run.
/// </summary>
public interface IDemoModelStages
{
    /// <summary>Tokenize the kept pairs and pack them First-Fit-Decreasing into sequences.</summary>
    PackedData? Pack(DemoOptions options, CurationResult curated, string workDir, Action<string> log, out StageNotRun? notRun);

    /// <summary>Pre-train the tiny SigLIP vision tower with the sigmoid loss (the demo's stand-in for a published SigLIP).</summary>
    PretrainedVisionTower? VisionTower(DemoOptions options, string workDir, Action<string> log, out StageNotRun? notRun);

    /// <summary>Pre-train the tiny VLM (vision frozen, few pooled visual tokens) on the packed data.</summary>
    TrainedModel? Pretrain(DemoOptions options, PackedData packed, PretrainedVisionTower tower, string workDir, Action<string> log, out StageNotRun? notRun);

    /// <summary>SFT from the pre-trained checkpoint on the LLaVA JSON, with the full visual grid (low-to-high switch).</summary>
    TrainedModel? Sft(DemoOptions options, TrainedModel pretrained, SyntheticDatasetLayout data, string workDir, Action<string> log, out StageNotRun? notRun);

    /// <summary>A greedy-decoding answer generator (max 16 new tokens) over a trained checkpoint.</summary>
    IVqaAnswerGenerator? Generator(DemoOptions options, TrainedModel model, string name, out StageNotRun? notRun);
}
