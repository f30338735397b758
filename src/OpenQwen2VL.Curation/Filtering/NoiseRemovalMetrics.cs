namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// How well a filter removed known noise. Precision: the share of removed pairs that were noise. Recall: the
/// share of noise that was removed. Both are 1 when there is nothing to remove and nothing was removed.
/// </summary>
public sealed record NoiseRemovalMetrics(int Pairs, int Noisy, int Removed, int RemovedNoisy)
{
    public double Precision => Removed == 0 ? (Noisy == 0 ? 1 : 0) : (double)RemovedNoisy / Removed;
    public double Recall => Noisy == 0 ? 1 : (double)RemovedNoisy / Noisy;

    public static NoiseRemovalMetrics Compute(IReadOnlyList<bool> removed, IReadOnlyList<bool> isNoise)
    {
        if (removed.Count != isNoise.Count) throw new ArgumentException("one ground-truth flag per pair");
        int noisy = 0, rem = 0, both = 0;
        for (int i = 0; i < removed.Count; i++)
        {
            if (isNoise[i]) noisy++;
            if (removed[i]) rem++;
            if (removed[i] && isNoise[i]) both++;
        }
        return new NoiseRemovalMetrics(removed.Count, noisy, rem, both);
    }
}
