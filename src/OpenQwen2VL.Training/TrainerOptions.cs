using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Distributed;
using OpenQwen2VL.Training.Observability;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training;

/// <summary>How one stage runs: config, run folder, device, and the run-control flags of `oqvl train`.</summary>
public sealed class TrainerOptions
{
    public required StageConfig Config { get; init; }
    public required string RunDirectory { get; init; }
    public Device Device { get; init; } = CPU;
    /// <summary>End after this many completed steps exactly as an interruption would (checkpoint, no final).</summary>
    public int? StopAt { get; init; }
    /// <summary>Continue from the latest checkpoint of the run folder.</summary>
    public bool Resume { get; init; }
    public ICollective Collective { get; init; } = new SingleProcessCollective();
    /// <summary>Also write frozen components (e.g. a randomly initialised preset's vision tower) to checkpoints and final/.</summary>
    public bool SaveFrozenComponents { get; init; }
    /// <summary>Called at each log interval with the steps of the window.</summary>
    public Action<IReadOnlyList<StepMetrics>>? OnLog { get; init; }
    /// <summary>Plan reports, one line each (e.g. the ranks and the optimizer state per rank); null drops them.</summary>
    public Action<string>? Log { get; init; }
    /// <summary>Warnings, one line each (e.g. a damaged checkpoint skipped by --resume); null drops them.</summary>
    public Action<string>? Warn { get; init; }
    /// <summary>Cancelled by Ctrl-C / SIGTERM: the current step finishes, a checkpoint is saved, the run returns.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>
    /// Writes the exported model's configs, tokenizer and manifest into the folder that becomes final/ (after the
    /// trainer has written the weights there); null leaves final/ with weights only.
    /// </summary>
    public Action<string>? WriteModelFiles { get; init; }
}
