namespace OpenQwen2VL.Training.Observability;

/// <summary>One line of metrics.jsonl. Rates are averaged over the log window the step belongs to.</summary>
public sealed record StepMetrics(
    int Step,
    double Loss,
    double Lr,
    double GradNorm,
    bool Skipped,
    double TokensPerSecond,
    double ImagesPerSecond,
    double PaddingFraction,
    double? Mfu,
    double ElapsedSeconds,
    int MaxSteps);
