namespace OpenQwen2VL.Training.Optim;

/// <summary>
/// Linear warm-up from 0 over ⌊ratio·total⌋ steps, then cosine decay to 0 at <c>total</c>: the shape of HF's
/// get_cosine_schedule_with_warmup that the reference trainer uses. <c>step</c> is the number of completed
/// optimiser steps, so the first update runs at <see cref="LearningRate"/>(0).
/// </summary>
public sealed class WarmupCosineSchedule(double peak, int totalSteps, double warmupRatio)
{
    public double Peak { get; } = peak;
    public int TotalSteps { get; } = totalSteps;
    public int WarmupSteps { get; } = (int)Math.Floor(totalSteps * warmupRatio);

    public double LearningRate(int step)
    {
        if (step < WarmupSteps) return Peak * step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Peak * Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }
}
