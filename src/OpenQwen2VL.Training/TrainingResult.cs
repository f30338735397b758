namespace OpenQwen2VL.Training;

/// <summary>How a run ended.</summary>
public sealed record TrainingResult(
    int StepsCompleted,
    int StartStep,
    bool Finished,
    bool Interrupted,
    int NonFiniteSkipped,
    double FirstLoss,
    double LastLoss,
    double ElapsedSeconds,
    long TokensSeen,
    string? FinalDirectory,
    string? LastCheckpoint)
{
    /// <summary>Wall time this rank spent in gradient all-reduces and weight all-gathers (0 on one process).</summary>
    public double CommunicationSeconds { get; init; }
}
