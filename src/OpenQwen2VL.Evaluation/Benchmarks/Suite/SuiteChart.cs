namespace OpenQwen2VL.Evaluation.Benchmarks.Suite;

/// <summary>A PNG bar chart of a suite's headline scores in percent (ScottPlot, sized like the project's other plots).</summary>
public static class SuiteChart
{
    public static void Save(string path, IReadOnlyList<SuiteRow> rows)
    {
        var plt = new ScottPlot.Plot();
        var bars = rows.Select((r, i) => new ScottPlot.Bar { Position = i, Value = 100 * r.Score, Label = $"{100 * r.Score:F1}" }).ToArray();
        var series = plt.Add.Bars(bars);
        series.ValueLabelStyle.FontSize = 14;
        plt.Axes.Bottom.SetTicks(rows.Select((_, i) => (double)i).ToArray(), rows.Select(r => $"{r.Benchmark}\n{r.Metric}").ToArray());
        plt.Axes.Margins(bottom: 0);
        plt.Axes.SetLimitsY(0, 105);
        plt.Title("benchmark scores");
        plt.YLabel("score (%)");
        plt.SavePng(path, 900, 500);
    }
}
