namespace OpenQwen2VL.Curation.Resharding;

/// <summary>Where a filter run is: "scores" (score files and uid lists read: Done of Total) or "shards" (input shards done).</summary>
public readonly record struct ScoreFilterProgress(string Phase, int Done, int Total, long Samples, long Kept);
