using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Curation.Scoring;

public sealed record ScoreJobOptions
{
    public required IReadOnlyList<string> Shards { get; init; }
    public required string OutputDir { get; init; }
    /// <summary>Pairs per scorer call; the batch's pixels are the job's largest buffer (batch · 3 · S² floats).</summary>
    public int BatchSize { get; init; } = 32;
    public WorkerRank Rank { get; init; } = new(0, 1, "single process");
    public long MaxMemberBytes { get; init; } = WebDatasetReader.DefaultMaxMemberBytes;
    public ImageLimits ImageLimits { get; init; } = ImageLimits.Default;
}
