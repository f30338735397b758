using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// A resumable loader position: the epoch and how many examples of it were delivered in batches. The
/// example order is a pure function of the shard list, seed, rank and epoch, so restoring this state
/// replays the exact same next batches. Seed and rank are kept to refuse resuming a different stream.
/// </summary>
public sealed record LoaderState
{
    [JsonPropertyName("epoch")] public int Epoch { get; init; }
    [JsonPropertyName("consumed")] public long Consumed { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("rank")] public int Rank { get; init; }
    [JsonPropertyName("world_size")] public int WorldSize { get; init; } = 1;
    [JsonPropertyName("batches")] public long Batches { get; init; }
    /// <summary>
    /// Examples per shard of this rank's shard list (in spec order), -1 where not read yet. Lets a resume
    /// step over whole shards before the current shuffle window without reading them again.
    /// </summary>
    [JsonPropertyName("shard_counts")] public int[]? ShardCounts { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this);
    public static LoaderState FromJson(string json) =>
        JsonSerializer.Deserialize<LoaderState>(json) ?? throw new InvalidDataException("empty loader state");
}
