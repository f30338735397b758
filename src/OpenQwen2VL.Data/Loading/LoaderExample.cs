namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// One training sequence before batching: token ids with image markers, optional labels (null: the ids,
/// with -100 at image markers), and the encoded images in the order of their markers.
/// </summary>
public sealed class LoaderExample
{
    public required int[] Ids { get; init; }
    public int[]? Labels { get; init; }
    public required ReadOnlyMemory<byte>[] Images { get; init; }
    /// <summary>
    /// Lengths (in ids) of the sequences packed into this one, in order, summing to the ids' length; null: one
    /// sequence. Each is its own segment: positions restart at 0 and attention stays inside it (packed SFT).
    /// </summary>
    public int[]? SegmentLengths { get; init; }
    /// <summary>Where it came from (shard:key), for debugging and tests.</summary>
    public string Id { get; init; } = "";
}
