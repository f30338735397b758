namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>POPE's binary metrics with "yes" as the positive class, as LLaVA's eval_pope computes them.</summary>
public sealed record PopeMetrics(int TruePositive, int FalsePositive, int TrueNegative, int FalseNegative)
{
    public static PopeMetrics Of(IReadOnlyList<BenchmarkPrediction> predictions)
    {
        int tp = 0, fp = 0, tn = 0, fn = 0;
        foreach (var p in predictions)
        {
            bool predictedYes = PopeBenchmark.YesNo(p.Answer) == "yes", labelYes = p.Item.References[0] == "yes";
            if (predictedYes && labelYes) tp++; else if (predictedYes) fp++; else if (labelYes) fn++; else tn++;
        }
        return new PopeMetrics(tp, fp, tn, fn);
    }

    public int Count => TruePositive + FalsePositive + TrueNegative + FalseNegative;
    public double Accuracy => (double)(TruePositive + TrueNegative) / Count;
    // 0 instead of NaN when there is no positive prediction/label: a summary stays valid JSON.
    public double Precision => TruePositive + FalsePositive == 0 ? 0 : (double)TruePositive / (TruePositive + FalsePositive);
    public double Recall => TruePositive + FalseNegative == 0 ? 0 : (double)TruePositive / (TruePositive + FalseNegative);
    public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);
    public double YesRatio => (double)(TruePositive + FalsePositive) / Count;

    /// <summary>F1 first (the benchmark's headline), then accuracy, precision, recall and yes-ratio; names get <paramref name="suffix"/>.</summary>
    public List<SummaryRow> Rows(string suffix) =>
    [
        new("f1" + suffix, F1, Count), new("accuracy" + suffix, Accuracy, Count), new("precision" + suffix, Precision, Count),
        new("recall" + suffix, Recall, Count), new("yes_ratio" + suffix, YesRatio, Count),
    ];
}
