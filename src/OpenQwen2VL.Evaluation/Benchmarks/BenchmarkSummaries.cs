namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>Summary rows shared by benchmarks whose metric is a mean of per-item scores.</summary>
public static class BenchmarkSummaries
{
    /// <summary>The mean score, then the mean per category (<c>metric[category]</c>) when items carry categories.</summary>
    public static IReadOnlyList<SummaryRow> MeanWithCategories(string metric, IReadOnlyList<BenchmarkPrediction> predictions)
    {
        var rows = new List<SummaryRow> { new(metric, predictions.Average(p => p.Score), predictions.Count) };
        foreach (var g in predictions.Where(p => p.Item.Category.Length > 0).GroupBy(p => p.Item.Category, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            rows.Add(new SummaryRow($"{metric}[{g.Key}]", g.Average(p => p.Score), g.Count()));
        return rows;
    }
}
