namespace OpenQwen2VL.Training.Observability;

/// <summary>The loss curve of a run as a PNG (ScottPlot).</summary>
public static class LossCurvePlot
{
    public static void Save(IReadOnlyList<StepMetrics> metrics, string pngPath, string title)
    {
        var plot = new ScottPlot.Plot();
        var kept = metrics.Where(m => !m.Skipped && double.IsFinite(m.Loss)).ToList();
        var line = plot.Add.Scatter(kept.Select(m => (double)m.Step).ToArray(), kept.Select(m => m.Loss).ToArray());
        line.MarkerSize = kept.Count > 200 ? 0 : 3;
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("loss (mean token cross-entropy)");
        plot.SavePng(pngPath, 900, 500);
    }
}
