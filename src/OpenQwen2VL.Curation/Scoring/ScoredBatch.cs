namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// A scorer's answers for one batch: <c>Values[column][pair]</c> (null = missing, e.g. an unparseable model output)
/// and <c>RawText[column][pair]</c> for the columns that keep raw text (null arrays for the others).
/// </summary>
public sealed record ScoredBatch(double?[][] Values, string?[]?[] RawText);
