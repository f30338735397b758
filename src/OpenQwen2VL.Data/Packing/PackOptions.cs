using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Data.Packing;

/// <summary>What to do with a sample longer than the capacity.</summary>
public enum OverCapacityPolicy
{
    /// <summary>Skip it (counted as "over_capacity").</summary>
    Drop,
    /// <summary>Cut its text so it fits (counted in "truncated_samples"); dropped only if even the image does not fit.</summary>
    Truncate,
}

/// <summary>What the pack job reads.</summary>
public enum PackFormat
{
    /// <summary>img2dataset image-caption shards: one sample per pair.</summary>
    Caption,
    /// <summary>OBELICS / MMC4 interleaved documents in JSONL files or WebDataset shards (<see cref="Prompts.InterleavedDocumentReader"/>).</summary>
    Interleaved,
}

/// <summary>Settings of <see cref="PackPipeline"/>.</summary>
public sealed record PackOptions
{
    public PackFormat Format { get; init; } = PackFormat.Caption;
    /// <summary>Tokens per packed sequence.</summary>
    public int Capacity { get; init; } = 4096;
    /// <summary>Visual tokens each image marker expands to (144 in pre-training).</summary>
    public int VisualTokens { get; init; } = 144;
    /// <summary>Pack each input shard on its own (the reference's behaviour) instead of globally.</summary>
    public bool PerShard { get; init; }
    public OverCapacityPolicy OverCapacity { get; init; } = OverCapacityPolicy.Drop;
    /// <summary>Seeds the order of packs in the output (FFD itself is deterministic).</summary>
    public int Seed { get; init; }
    public ImageLimits ImageLimits { get; init; } = ImageLimits.Default;
    /// <summary>Tar members larger than this are skipped ("member_too_large") before they are read into memory.</summary>
    public long MaxMemberBytes { get; init; } = OpenQwen2VL.Data.Shards.WebDatasetReader.DefaultMaxMemberBytes;
    /// <summary>The model's input size: images with a longer short side are re-encoded at this size when that is smaller.</summary>
    public int ImageSize { get; init; } = 384;
    public bool Reencode { get; init; } = true;
    public int JpegQuality { get; init; } = 90;
    public int PacksPerShard { get; init; } = 256;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>The tokenizer.json the ids come from: copied into the output so later stages (a preset model, a check) have it.</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>The stage folders the input shards came from (lineage for the manifest).</summary>
    public IReadOnlyList<OpenQwen2VL.Data.Manifests.ManifestInput> Inputs { get; init; } = [];
}

/// <summary>Progress of a pack job: samples scanned of shards, then packs written.</summary>
public readonly record struct PackProgress(string Phase, long Done, long Total, long Samples);
