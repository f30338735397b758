namespace OpenQwen2VL.Curation.Filtering;

/// <summary>What a curation run did. Input = kept + filtered out + skipped (bad samples, by reason).</summary>
public sealed record CurationResult
{
    public required long Input { get; init; }
    public required int Kept { get; init; }
    public required int FilteredOut { get; init; }
    public required IReadOnlyDictionary<string, long> Skipped { get; init; }
    public required ScoreThreshold Threshold { get; init; }
    /// <summary>Against the <c>synthetic_noise</c> flags, when every scored pair has one.</summary>
    public required NoiseRemovalMetrics? NoiseRemoval { get; init; }
    public required IReadOnlyList<double> EpochLosses { get; init; }
    public required IReadOnlyList<float> Scores { get; init; }
    /// <summary>Brace spec of the written shards with the kept pairs.</summary>
    public required string KeptShardSpec { get; init; }
    public required int KeptShardCount { get; init; }
    public required string ScoresDir { get; init; }
    public required string HistogramPng { get; init; }
    public required string StatsJson { get; init; }
    public required string ModelPath { get; init; }
    public required double TrainSeconds { get; init; }
    public required double TotalSeconds { get; init; }
}
