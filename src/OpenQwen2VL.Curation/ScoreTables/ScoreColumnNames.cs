namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// The names keep expressions use for scores: <c>siglip</c>, <c>mlm_itm</c>, <c>mlm_odf</c>, <c>mlm_ctq</c>, <c>mlm_su</c>.
/// The reference MLM-Filter scorer writes <c>&lt;metric&gt;_score</c> columns, mapped here to those names; every other
/// column of an imported file keeps its own name.
/// </summary>
public static class ScoreColumnNames
{
    public const string Siglip = "siglip";
    public const string MlmImageTextMatching = "mlm_itm";
    public const string MlmObjectDetailFulfillment = "mlm_odf";
    public const string MlmCaptionTextQuality = "mlm_ctq";
    public const string MlmSemanticUnderstanding = "mlm_su";

    /// <summary>The column every score file joins on.</summary>
    public const string Uid = "uid";

    /// <summary>Reference scorer column → our name (its values are the model's text, parsed by the MLM-Filter rule).</summary>
    public static readonly IReadOnlyDictionary<string, string> ReferenceColumns = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["image_text_matching_score"] = MlmImageTextMatching,
        ["object_detail_fulfillment_score"] = MlmObjectDetailFulfillment,
        ["caption_text_quality_score"] = MlmCaptionTextQuality,
        ["semantic_understanding_score"] = MlmSemanticUnderstanding,
    };

    /// <summary>The name a file's column goes by in keep expressions.</summary>
    public static string Map(string fileColumn) => ReferenceColumns.TryGetValue(fileColumn, out var ours) ? ours : fileColumn;

    /// <summary>Whether a column's text values are MLM-Filter outputs (first line, Python int()) rather than numbers.</summary>
    public static bool IsMlmFilterText(string fileColumn) => ReferenceColumns.ContainsKey(fileColumn);
}
