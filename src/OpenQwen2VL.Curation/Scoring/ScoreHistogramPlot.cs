namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// A PNG histogram of the filter scores (ScottPlot). With ground truth the matching and the mismatched
/// pairs are drawn as two series; the threshold is a vertical line.
/// </summary>
public static class ScoreHistogramPlot
{
    public static void Save(string path, IReadOnlyList<float> scores, IReadOnlyList<bool>? isNoise, double threshold, string title, int bins = 50)
    {
        double min = scores.Min(), max = scores.Max();
        if (max <= min) max = min + 1e-6;
        double width = (max - min) / bins;
        var plt = new ScottPlot.Plot();
        var groups = isNoise is null
            ? [("all pairs", Enumerable.Range(0, scores.Count))]
            : new[] { ("matching caption", Enumerable.Range(0, scores.Count).Where(i => !isNoise[i])), ("mismatched caption (injected noise)", Enumerable.Range(0, scores.Count).Where(i => isNoise[i])) };
        foreach (var (label, indices) in groups)
        {
            var counts = new double[bins];
            foreach (int i in indices) counts[Math.Min(bins - 1, (int)((scores[i] - min) / width))]++;
            var positions = Enumerable.Range(0, bins).Select(b => min + (b + 0.5) * width).ToArray();
            var bars = plt.Add.Bars(positions, counts);
            foreach (var bar in bars.Bars) bar.Size = width * 0.9;
            bars.LegendText = label;
        }
        var line = plt.Add.VerticalLine(threshold);
        line.LegendText = $"threshold {threshold:F3}";
        plt.Title(title);
        plt.XLabel("cosine similarity (image, caption)");
        plt.YLabel("pairs");
        plt.ShowLegend();
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        plt.SavePng(path, 800, 450);
    }
}
