namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// A model-ready batch without a tensor library: row-major [B, L] ids and labels (right-padded, -100 in
/// labels at image markers and padding), and [N, 3, S, S] normalised pixels of all images in order of
/// appearance. <see cref="StateAfter"/> is the position to save to resume right after this batch.
/// </summary>
public sealed class DataBatch
{
    public const int IgnoreIndex = -100;

    public required int BatchSize { get; init; }
    public required int SequenceLength { get; init; }
    public required long[] InputIds { get; init; }
    public required long[] Labels { get; init; }
    public required int ImageCount { get; init; }
    public required int ImageSize { get; init; }
    /// <summary>N * 3 * S * S floats; empty when there are no images.</summary>
    public required float[] Pixels { get; init; }
    /// <summary>Images that could not be decoded (left as zeros, counted).</summary>
    public int FailedImages { get; init; }
    public required string[] ExampleIds { get; init; }
    /// <summary>
    /// Row-major [B, L]: which packed sequence of its row each token belongs to (0, 1, …; -1 at padding), from
    /// <see cref="LoaderExample.SegmentLengths"/>; null when no row is packed (one sequence per row, plain causal attention).
    /// </summary>
    public int[]? SegmentIds { get; init; }
    /// <summary>The <see cref="BatchLoader"/>'s position after this batch (null for streams that keep their own).</summary>
    public LoaderState? StateAfter { get; init; }
}
