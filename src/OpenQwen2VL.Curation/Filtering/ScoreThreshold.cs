namespace OpenQwen2VL.Curation.Filtering;

/// <summary>How the keep/drop threshold on the scores was chosen, and its value. Pairs with score ≥ Value are kept.</summary>
public sealed record ScoreThreshold(string Method, double Value)
{
    public static ScoreThreshold Fixed(double value) => new("fixed", value);

    /// <summary>Keeps the top <paramref name="keepFraction"/> of the pairs (ties at the cut are kept).</summary>
    public static ScoreThreshold KeepFraction(IReadOnlyList<float> scores, double keepFraction)
    {
        if (keepFraction is <= 0 or > 1 || double.IsNaN(keepFraction)) throw new ArgumentOutOfRangeException(nameof(keepFraction), "keep fraction must be in (0, 1]");
        var sorted = scores.OrderByDescending(s => s).ToArray();
        int keep = Math.Max(1, (int)Math.Round(keepFraction * sorted.Length));
        return new("keep_fraction", sorted[keep - 1]);
    }

    /// <summary>
    /// Otsu's method on a 256-bin histogram: the cut that maximises the between-class variance, for a
    /// two-mode score distribution (matching vs mismatched pairs) without knowing the noise rate.
    /// Hand-written: a few lines, and no image library here exposes it on plain numbers.
    /// </summary>
    public static ScoreThreshold Otsu(IReadOnlyList<float> scores, int bins = 256)
    {
        float min = scores.Min(), max = scores.Max();
        if (max <= min) return new("otsu", min);
        var hist = new double[bins];
        foreach (var s in scores) hist[Math.Min(bins - 1, (int)((s - min) / (max - min) * bins))]++;
        double total = scores.Count, sumAll = 0;
        for (int i = 0; i < bins; i++) sumAll += i * hist[i];
        double wLow = 0, sumLow = 0, best = -1;
        int cut = 0;
        for (int i = 0; i < bins - 1; i++)
        {
            wLow += hist[i];
            sumLow += i * hist[i];
            double wHigh = total - wLow;
            if (wLow == 0 || wHigh == 0) continue;
            double meanLow = sumLow / wLow, meanHigh = (sumAll - sumLow) / wHigh;
            double between = wLow * wHigh * (meanLow - meanHigh) * (meanLow - meanHigh);
            if (between > best) { best = between; cut = i; }
        }
        return new("otsu", min + (cut + 1) * (max - min) / bins);
    }
}
