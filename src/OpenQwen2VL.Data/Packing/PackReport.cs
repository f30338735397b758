using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Packing;

/// <summary>What a pack job did; written as <c>DIR/stats.json</c>.</summary>
public sealed class PackReport
{
    public readonly record struct ShardCounts(long Input, long Kept, long Skipped);

    public required PackOptions Options { get; init; }
    public SkipStats Stats { get; } = new();
    public int InputShards { get; init; }
    public long TruncatedSamples { get; set; }
    /// <summary>Samples packed: one per kept caption pair, one or more per kept interleaved document.</summary>
    public long Samples { get; set; }
    /// <summary>Interleaved documents longer than the capacity, cut into several samples at chunk boundaries.</summary>
    public long SplitDocuments { get; set; }
    /// <summary>Images dropped from kept or skipped interleaved documents, by reason (the documents are counted in <see cref="Stats"/>).</summary>
    public SortedDictionary<string, long> DroppedImages { get; } = new(StringComparer.Ordinal);
    public long Packs { get; set; }
    public long PackedTokens { get; set; }
    public double FillRatio { get; set; }
    public double FillRatioGlobal { get; set; }
    public double FillRatioPerShard { get; set; }
    public long PackCountGlobal { get; set; }
    public long PackCountPerShard { get; set; }
    public SortedDictionary<int, long> ImagesPerPack { get; } = [];
    public long ReencodedImages { get; set; }
    public long ReencodeBytesSaved { get; set; }
    public Dictionary<string, ShardCounts> PerShard { get; } = new(StringComparer.Ordinal);
    public List<string> OutputShards { get; set; } = [];
    public List<int> PacksPerOutputShard { get; set; } = [];
    public double ScanSeconds { get; set; }
    public double Seconds { get; set; }

    public double PaddingFraction => 1 - FillRatio;

    public JsonObject ToJson()
    {
        var json = Stats.ToJson();
        json["format"] = Options.Format.ToString().ToLowerInvariant();
        json["samples"] = Samples;
        json["split_documents"] = SplitDocuments;
        var dropped = new JsonObject();
        foreach (var (k, v) in DroppedImages) dropped[k] = v;
        json["dropped_images"] = dropped;
        json["packs"] = Packs;
        json["packed_tokens"] = PackedTokens;
        json["capacity"] = Options.Capacity;
        json["visual_tokens"] = Options.VisualTokens;
        json["packing"] = Options.PerShard ? "ffd-per-shard" : "ffd-global";
        json["fill_ratio"] = FillRatio;
        json["padding_fraction"] = PaddingFraction;
        json["fill_ratio_global"] = FillRatioGlobal;
        json["fill_ratio_per_shard"] = FillRatioPerShard;
        json["packs_global"] = PackCountGlobal;
        json["packs_per_shard_packing"] = PackCountPerShard;
        json["truncated_samples"] = TruncatedSamples;
        json["over_capacity_policy"] = Options.OverCapacity.ToString().ToLowerInvariant();
        var hist = new JsonObject();
        foreach (var (k, v) in ImagesPerPack) hist[k.ToString(System.Globalization.CultureInfo.InvariantCulture)] = v;
        json["images_per_pack"] = hist;
        json["reencoded_images"] = ReencodedImages;
        json["reencode_bytes_saved"] = ReencodeBytesSaved;
        // The decode budget of this job, and the most of it decodes held at once (never above it).
        json["decode_budget_bytes"] = Options.ImageLimits.DecodeBudget.CapacityBytes;
        json["decode_peak_bytes"] = Options.ImageLimits.DecodeBudget.PeakBytes;
        var shards = new JsonObject();
        foreach (var (path, c) in PerShard.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            shards[path] = new JsonObject { ["input"] = c.Input, ["kept"] = c.Kept, ["skipped"] = c.Skipped };
        json["input_shards"] = shards;
        var outputs = new JsonObject();
        for (int i = 0; i < OutputShards.Count; i++) outputs[OutputShards[i]] = PacksPerOutputShard[i];
        json["output_shards"] = outputs;
        json["seed"] = Options.Seed;
        json["scan_seconds"] = ScanSeconds;
        json["seconds"] = Seconds;
        return json;
    }

    public void Write(string path) =>
        AtomicFile.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}
