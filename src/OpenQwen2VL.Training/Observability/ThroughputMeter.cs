namespace OpenQwen2VL.Training.Observability;

/// <summary>
/// Tokens, images and FLOPs per second over wall time: each optimiser step is stamped when it completes, with the
/// positions it processed counted the same way every step (text ids plus visual tokens, padding included: what the
/// model computed on), and a rate is the work of the recent steps over the wall time they took, from the completion of
/// the step before them. The window spans at least <see cref="MinSeconds"/> and <see cref="MinSteps"/> steps, so one
/// slow or fast step (a loader stall, a checkpoint write, a GC) moves the figure by its share and no more; measuring a
/// log window's work over the time since the previous log line made consecutive lines differ by up to 100x.
/// </summary>
public sealed class ThroughputMeter(double minSeconds = 5, int minSteps = 10)
{
    readonly record struct Mark(double Time, double Tokens, double Images, double Flops);

    readonly Queue<Mark> _marks = new();
    Mark? _origin;

    public double MinSeconds { get; } = minSeconds;
    public int MinSteps { get; } = minSteps;

    /// <summary>The clock reading where measuring starts (e.g. just before the first step of this session).</summary>
    public void Start(double time) => _origin = new Mark(time, 0, 0, 0);

    /// <summary>A step completed at <paramref name="time"/> (seconds on the caller's clock) after processing this much work.</summary>
    public void StepCompleted(double time, double tokens, double images, double flops)
    {
        _origin ??= new Mark(time, 0, 0, 0);
        _marks.Enqueue(new Mark(time, tokens, images, flops));
        // Drop the oldest step while the rest still span the minimum window; the dropped step's end is the new origin.
        while (_marks.Count > MinSteps && time - _marks.Peek().Time >= MinSeconds) _origin = _marks.Dequeue();
    }

    /// <summary>(tokens/s, images/s, FLOP/s) over the window; zeros before the first step.</summary>
    public (double Tokens, double Images, double Flops) Rates()
    {
        if (_marks.Count == 0 || _origin is not { } origin) return (0, 0, 0);
        double dt = Math.Max(1e-9, _marks.Last().Time - origin.Time);
        double tokens = 0, images = 0, flops = 0;
        foreach (var m in _marks) { tokens += m.Tokens; images += m.Images; flops += m.Flops; }
        return (tokens / dt, images / dt, flops / dt);
    }
}
