using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Thread-safe accounting of what a data job did with its input: every sample read is counted once as
/// input, and then exactly once as kept or as skipped with a reason. <see cref="IsBalanced"/> checks
/// input = kept + sum(skipped), the invariant every job must end with.
/// </summary>
public sealed class SkipStats
{
    private long _input;
    private long _kept;
    private readonly ConcurrentDictionary<string, long> _skipped = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _damagedShards = new(StringComparer.Ordinal);

    public long Input => Interlocked.Read(ref _input);
    public long Kept => Interlocked.Read(ref _kept);
    public long SkippedTotal => _skipped.Values.Sum();

    /// <summary>Skip counts by reason, sorted by reason.</summary>
    public IReadOnlyDictionary<string, long> Skipped =>
        new SortedDictionary<string, long>(_skipped.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal);

    /// <summary>Shards that were missing, unreadable or damaged (path → reason); their intact samples still count.</summary>
    public IReadOnlyDictionary<string, string> DamagedShards =>
        new SortedDictionary<string, string>(_damagedShards, StringComparer.Ordinal);

    public bool IsBalanced => Input == Kept + SkippedTotal;

    /// <summary>One more sample was read.</summary>
    public void CountInput(long n = 1) => Interlocked.Add(ref _input, n);

    /// <summary>A counted input sample was kept.</summary>
    public void Keep(long n = 1) => Interlocked.Add(ref _kept, n);

    /// <summary>A counted input sample was skipped for <paramref name="reason"/> (snake_case, e.g. "missing_caption").</summary>
    public void Skip(string reason, long n = 1) => _skipped.AddOrUpdate(reason, n, (_, c) => c + n);

    /// <summary>Records shard-level damage (not a sample: the samples it lost are counted by <see cref="Skip"/>).</summary>
    public void MarkDamagedShard(string shardPath, string reason) =>
        _damagedShards[shardPath] = reason;

    /// <summary>Adds another job's counts into this one (e.g. per-worker stats).</summary>
    public void Add(SkipStats other)
    {
        CountInput(other.Input);
        Keep(other.Kept);
        foreach (var (reason, n) in other.Skipped) Skip(reason, n);
        foreach (var (shard, reason) in other.DamagedShards) MarkDamagedShard(shard, reason);
    }

    /// <summary>The counts as JSON: input_samples, kept, skipped (reason → count), skipped_total, balanced, damaged_shards.</summary>
    public JsonObject ToJson()
    {
        var skipped = new JsonObject();
        foreach (var (reason, n) in Skipped) skipped[reason] = n;
        var damaged = new JsonObject();
        foreach (var (shard, reason) in DamagedShards) damaged[shard] = reason;
        return new JsonObject
        {
            ["input_samples"] = Input,
            ["kept"] = Kept,
            ["skipped"] = skipped,
            ["skipped_total"] = SkippedTotal,
            ["balanced"] = IsBalanced,
            ["damaged_shards"] = damaged,
        };
    }

    /// <summary>Writes <see cref="ToJson"/> atomically.</summary>
    public void WriteJson(string path) =>
        AtomicFile.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}
