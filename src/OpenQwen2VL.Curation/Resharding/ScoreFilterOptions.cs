using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Curation.Resharding;

/// <summary>Settings of <c>oqvl filter</c>: which shards, which scores and uid lists, what to keep, where to write it.</summary>
public sealed record ScoreFilterOptions
{
    /// <summary>Image-caption shards: a stage folder (synth, curate, filter), a folder of .tar, or a brace spec.</summary>
    public required string InputSpec { get; init; }
    /// <summary>Score files or folders of them (<see cref="Scores.ScoreFiles"/>); none is fine for an expression of uid lists only.</summary>
    public IReadOnlyList<string> ScorePaths { get; init; } = [];
    /// <summary>Uid lists by the name <c>in(NAME)</c> uses.</summary>
    public IReadOnlyDictionary<string, string> UidLists { get; init; } = new Dictionary<string, string>();
    /// <summary>The keep expression (<see cref="Expressions.KeepExpression"/>).</summary>
    public required string Keep { get; init; }
    public required string OutputDir { get; init; }
    /// <summary>Samples per output shard (the last may hold fewer).</summary>
    public int ShardSize { get; init; } = 10000;
    public long MaxMemberBytes { get; init; } = WebDatasetReader.DefaultMaxMemberBytes;

    public void Validate()
    {
        if (ShardSize < 1) throw new ArgumentException($"--shard-size {ShardSize}: must be at least 1");
        if (string.IsNullOrWhiteSpace(OutputDir)) throw new ArgumentException("--out: no folder given");
    }
}
