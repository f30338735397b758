namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// One of MLM-Filter's four ratings: its short name on the command line (<c>--metrics su,itm</c>), the reference's
/// task name (which the prompt and the reference's <c>&lt;task&gt;_score</c> parquet column use) and our column.
/// </summary>
public sealed record MlmFilterMetric(string ShortName, string Task)
{
    public static readonly MlmFilterMetric ImageTextMatching = new("itm", "image_text_matching");
    public static readonly MlmFilterMetric ObjectDetailFulfillment = new("odf", "object_detail_fulfillment");
    public static readonly MlmFilterMetric CaptionTextQuality = new("ctq", "caption_text_quality");
    public static readonly MlmFilterMetric SemanticUnderstanding = new("su", "semantic_understanding");

    public static IReadOnlyList<MlmFilterMetric> All { get; } = [ImageTextMatching, ObjectDetailFulfillment, CaptionTextQuality, SemanticUnderstanding];

    /// <summary><c>mlm_su</c>: the typed score column.</summary>
    public string Column => "mlm_" + ShortName;

    /// <summary><c>mlm_su_raw</c>: the model's text as generated.</summary>
    public string RawColumn => Column + "_raw";

    /// <summary>The reference scorer's parquet column for this metric (its scores are strings).</summary>
    public string ReferenceColumn => Task + "_score";

    /// <summary>Parses <c>su,itm</c> (or <c>all</c>); an unknown name is an ArgumentException naming the known ones.</summary>
    public static IReadOnlyList<MlmFilterMetric> Parse(string list)
    {
        if (list.Trim() == "all") return All;
        var metrics = new List<MlmFilterMetric>();
        foreach (var name in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var m = All.FirstOrDefault(x => x.ShortName == name || x.Task == name)
                ?? throw new ArgumentException($"--metrics: unknown metric '{name}' (known: {string.Join(", ", All.Select(x => x.ShortName))}, or all)");
            if (!metrics.Contains(m)) metrics.Add(m);
        }
        if (metrics.Count == 0) throw new ArgumentException("--metrics: name at least one metric (su, itm, odf, ctq, or all)");
        return metrics;
    }
}
