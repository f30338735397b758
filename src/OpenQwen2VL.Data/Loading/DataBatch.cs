namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// A model-ready batch without a tensor library: row-major [B, L] ids and labels (right-padded, -100 in
/// labels at image markers and padding), and [N, 3, S, S] normalised pixels of all images in order of
/// appearance. <see cref="StateAfter"/> is the position to save to resume right after this batch.
/// <see cref="Dispose"/> is optional: it lends the pixel buffer back to the loader that made it.
/// </summary>
public sealed class DataBatch : IDisposable
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

    /// <summary>Where <see cref="Pixels"/> goes back on <see cref="Dispose"/> (null: nowhere, the GC collects it).</summary>
    private PixelBufferPool? _pixelPool;
    internal PixelBufferPool? PixelPool { init => _pixelPool = value; }

    /// <summary>
    /// Gives <see cref="Pixels"/> back to the loader for a later batch (once copied into tensors, say); the batch's
    /// pixels must not be read afterwards. Not disposing is fine: the buffer is then garbage collected.
    /// </summary>
    public void Dispose() => Interlocked.Exchange(ref _pixelPool, null)?.Return(Pixels);
}
