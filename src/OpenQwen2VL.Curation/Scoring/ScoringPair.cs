namespace OpenQwen2VL.Curation.Scoring;

/// <summary>An image-caption pair of a shard as a scorer sees it; the preprocessed pixels travel in the batch buffer.</summary>
public sealed record ScoringPair(string Key, string Uid, string Caption);
