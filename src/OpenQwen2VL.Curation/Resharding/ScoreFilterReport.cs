using OpenQwen2VL.Curation.Expressions;
using OpenQwen2VL.Curation.ScoreTables;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Curation.Resharding;

/// <summary>What <see cref="ScoreFilterPipeline"/> did: input = kept + dropped (<see cref="Stats"/>), and why samples went.</summary>
public sealed class ScoreFilterReport
{
    public required KeepExpression Expression { get; init; }
    /// <summary>Samples read, kept, and dropped by reason (shard damage, missing_uid, filtered_out, ...).</summary>
    public required SkipStats Stats { get; init; }
    /// <summary>Samples the expression dropped, under each clause they failed (a sample may fail several).</summary>
    public required IReadOnlyDictionary<string, long> DroppedByClause { get; init; }
    /// <summary>Samples the expression dropped, under the first clause they failed (sums to <see cref="FilteredOut"/>).</summary>
    public required IReadOnlyDictionary<string, long> DroppedByFirstClause { get; init; }
    /// <summary>Samples with a uid but no score in a column the expression names, per column.</summary>
    public required IReadOnlyDictionary<string, long> MissingScores { get; init; }
    /// <summary>Samples whose uid no score file has (counted under every column of <see cref="MissingScores"/> too).</summary>
    public long UnscoredSamples { get; init; }
    public required ScoreLoadStats ScoreLoad { get; init; }
    public required int ScoredUids { get; init; }
    public required IReadOnlyDictionary<string, int> UidListSizes { get; init; }
    public long FilteredOut => Stats.Skipped.GetValueOrDefault(ScoreFilterPipeline.FilteredOut);
    public required IReadOnlyList<string> OutputShards { get; init; }
    public required IReadOnlyList<int> SamplesPerShard { get; init; }
    public required string StatsJson { get; init; }
    public double Seconds { get; init; }
}
