namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// One typed score a scorer writes (a nullable double column of the score parquet), and, for scorers whose model
/// writes text, the name of the column that keeps that raw text (so an unparseable output can still be read).
/// </summary>
public sealed record ScoreColumn(string Name, string? RawTextColumn = null);
