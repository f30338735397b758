using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Data.Loading;

/// <summary>Settings of <see cref="BatchLoader"/>.</summary>
public sealed record LoaderOptions
{
    public int BatchSize { get; init; } = 1;
    /// <summary>Background threads decoding and preprocessing images.</summary>
    public int Threads { get; init; } = 2;
    /// <summary>Batches prepared ahead of the consumer (bounds memory).</summary>
    public int Prefetch { get; init; } = 4;
    public int Seed { get; init; }
    /// <summary>Examples shuffled together; 1 turns shuffling within shards off (shard order is still shuffled when <see cref="Shuffle"/>).</summary>
    public int ShuffleWindow { get; init; } = 1000;
    public bool Shuffle { get; init; } = true;
    /// <summary>
    /// Batch examples with the same number of images together (LLaVA's modality-length grouping): after a window is
    /// shuffled, each run of <c>GroupByImageCount x BatchSize</c> examples is stably sorted by image count, most first,
    /// so one-image questions are not padded to the length of multi-image chats. Only the image count: sorting by
    /// token length too would group one-image questions by their template, and so batch them by question type
    /// (measured in the demo: a 0.79 VQA accuracy fell to 0.52). 0 = off.
    /// </summary>
    public int GroupByImageCount { get; init; }
    public int Rank { get; init; }
    public int WorldSize { get; init; } = 1;
    /// <summary>
    /// 0: each rank reads every world-size-th shard. N > 0: every rank walks the one stream a single process would read
    /// (all shards, same order) and takes its turn of N consecutive batches in rank order (rank r gets batches
    /// [t·W·N + r·N, t·W·N + (r+1)·N) of turn t), decoding only those. With N = the accumulation steps per rank, the
    /// global batch of every step holds the same sequences for any world size, so W ranks train as one process would.
    /// </summary>
    public int BatchesPerTurn { get; init; }

    /// <summary>Whether stream batch <paramref name="index"/> falls in <paramref name="rank"/>'s turn (<see cref="BatchesPerTurn"/> &gt; 0).</summary>
    public static bool InTurn(long index, int batchesPerTurn, int worldSize, int rank) => index / batchesPerTurn % worldSize == rank;

    /// <summary>
    /// When set, the batches (0-based over the one stream of all shards, as with <see cref="BatchesPerTurn"/>) this
    /// loader decodes and yields, in place of the turns rule: one source of a mixture split over ranks takes the batches
    /// that fall in its rank's turns of the mixture's stream (<see cref="MixtureBatchStream"/>). Called in stream order.
    /// </summary>
    public Func<long, bool>? TakesBatch { get; init; }
    /// <summary>Epochs to run; null runs forever.</summary>
    public int? Epochs { get; init; } = 1;
    /// <summary>Drop the last incomplete batch of an epoch.</summary>
    public bool DropLast { get; init; }
    /// <summary>Padding id (labels are -100 there anyway); Qwen2's &lt;|endoftext|&gt; by default.</summary>
    public int PadId { get; init; } = 151643;
    public ImageLimits ImageLimits { get; init; } = ImageLimits.Default;
}
