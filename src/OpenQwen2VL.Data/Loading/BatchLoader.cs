using System.Collections.Concurrent;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// Streams shards into model-ready <see cref="DataBatch"/>es.
/// <para>
/// Order: this rank's shards (every world-size-th) are shuffled per epoch by the seed; their examples
/// are shuffled in consecutive windows of <see cref="LoaderOptions.ShuffleWindow"/> (a window-wise
/// shuffle buffer whose permutation depends only on seed, epoch and window index). The order is thus a
/// pure function of the inputs, and a <see cref="LoaderState"/> (epoch, examples consumed) resumes it
/// exactly by replaying the cheap part (tar reading, tokenised ids) and skipping the consumed examples.
/// </para>
/// <para>
/// Threads: one producer reads examples and cuts batches; <see cref="LoaderOptions.Threads"/> workers
/// decode and preprocess images (the expensive part); at most <see cref="LoaderOptions.Prefetch"/>
/// batches are in flight, handed to the consumer in order.
/// </para>
/// </summary>
public sealed class BatchLoader(IReadOnlyList<string> shards, IExampleSource source, ImagePreprocessor preprocessor, LoaderOptions options)
{
    /// <summary>Skips and keeps of the examples read so far (the producer's view; includes replayed ones after a resume).</summary>
    public SkipStats Stats { get; } = new();

    private long _failedImages;
    private int[] _counts = [];
    /// <summary>Enough for the batches in flight, those being built and the one the consumer holds.</summary>
    private readonly PixelBufferPool _pixelBuffers = new(Math.Max(1, options.Prefetch) + Math.Max(1, options.Threads) + 2);
    public long FailedImages => Interlocked.Read(ref _failedImages);

    private sealed record RawBatch(List<LoaderExample> Examples, LoaderState StateAfter);

    /// <summary>The batches from <paramref name="resumeFrom"/> (or the beginning) on.</summary>
    public IEnumerable<DataBatch> Batches(LoaderState? resumeFrom = null, CancellationToken cancellationToken = default)
    {
        if (resumeFrom is { } r && (r.Seed != options.Seed || r.Rank != options.Rank || r.WorldSize != options.WorldSize))
            throw new ArgumentException($"loader state is for seed {r.Seed}, rank {r.Rank}/{r.WorldSize}, not seed {options.Seed}, rank {options.Rank}/{options.WorldSize}");
        var start = resumeFrom ?? new LoaderState { Seed = options.Seed, Rank = options.Rank, WorldSize = options.WorldSize };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = cts.Token;
        using var ordered = new BlockingCollection<TaskCompletionSource<DataBatch>>(Math.Max(1, options.Prefetch));
        using var work = new BlockingCollection<(RawBatch, TaskCompletionSource<DataBatch>)>();
        var producer = new Thread(() =>
        {
            try
            {
                foreach (var raw in RawBatches(start))
                {
                    token.ThrowIfCancellationRequested();
                    if (!IsMine(raw.StateAfter.Batches - 1)) continue;   // another rank's turn: not decoded here
                    var tcs = new TaskCompletionSource<DataBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
                    ordered.Add(tcs, token); // blocks while Prefetch batches are in flight
                    work.Add((raw, tcs), token);
                }
            }
            catch (OperationCanceledException) { }
            catch (Exception e)
            {
                var failed = new TaskCompletionSource<DataBatch>();
                failed.SetException(e);
                try { ordered.Add(failed, token); } catch (OperationCanceledException) { }
            }
            finally
            {
                ordered.CompleteAdding();
                work.CompleteAdding();
            }
        }) { IsBackground = true, Name = "loader-producer" };
        var workers = Enumerable.Range(0, Math.Max(1, options.Threads)).Select(i => new Thread(() =>
        {
            try
            {
                foreach (var (raw, tcs) in work.GetConsumingEnumerable(token))
                {
                    try { tcs.SetResult(Build(raw)); }
                    catch (Exception e) { tcs.SetException(e); }
                }
            }
            catch (OperationCanceledException) { }
        }) { IsBackground = true, Name = $"loader-worker-{i}" }).ToList();
        producer.Start();
        workers.ForEach(w => w.Start());
        try
        {
            foreach (var tcs in ordered.GetConsumingEnumerable(token))
                yield return tcs.Task.GetAwaiter().GetResult();
        }
        finally
        {
            cts.Cancel();
            producer.Join();
            workers.ForEach(w => w.Join());
        }
    }

    /// <summary>Whether the batch at <paramref name="index"/> (0-based, counted over the whole stream) is this rank's.</summary>
    private bool IsMine(long index) =>
        options.TakesBatch is { } takes ? takes(index)
        : options.BatchesPerTurn <= 0 || LoaderOptions.InTurn(index, options.BatchesPerTurn, options.WorldSize, options.Rank);

    /// <summary>The shards this rank reads: every world-size-th, or all of them when ranks take batches of one stream.</summary>
    private IReadOnlyList<string> MyShards() =>
        options.BatchesPerTurn > 0 || options.TakesBatch is not null ? shards : ShardSpec.ForRank(shards, options.Rank, options.WorldSize);

    /// <summary>The examples of one epoch in loader order (no images decoded).</summary>
    public IEnumerable<LoaderExample> EpochExamples(int epoch) => EpochExamples(epoch, 0, null);

    /// <summary>
    /// The epoch's examples after the first <paramref name="alignedSkip"/> (a multiple of the shuffle
    /// window). Shards whose count is known and that lie wholly before the skip point are not read.
    /// </summary>
    private IEnumerable<LoaderExample> EpochExamples(int epoch, long alignedSkip, int[]? counts)
    {
        var mine = MyShards();
        var order = Enumerable.Range(0, mine.Count).ToArray();
        if (options.Shuffle) new Random(SeedMixer.Mix(options.Seed, epoch, -1)).Shuffle(order);
        int window = Window;
        var buffer = new List<LoaderExample>(Math.Min(window, 1 << 16));
        long windowIndex = alignedSkip / window, toSkip = alignedSkip;
        foreach (int shardIndex in order)
        {
            if (toSkip > 0 && counts is not null && counts[shardIndex] >= 0 && counts[shardIndex] <= toSkip)
            {
                toSkip -= counts[shardIndex];
                continue;
            }
            int seen = 0;
            foreach (var ex in source.ReadShard(mine[shardIndex], Stats))
            {
                seen++;
                if (toSkip > 0) { toSkip--; continue; }
                buffer.Add(ex);
                if (buffer.Count < window) continue;
                foreach (var e in Shuffled(buffer, epoch, windowIndex++)) yield return e;
                buffer.Clear();
            }
            if (counts is not null) counts[shardIndex] = seen;
        }
        foreach (var e in Shuffled(buffer, epoch, windowIndex)) yield return e;
    }

    private int Window => options.Shuffle ? Math.Max(1, options.ShuffleWindow) : 1;

    private List<LoaderExample> Shuffled(List<LoaderExample> buffer, int epoch, long windowIndex)
    {
        var copy = buffer.ToArray();
        if (copy.Length > 1) new Random(SeedMixer.Mix(options.Seed, epoch, windowIndex)).Shuffle(copy);
        if (options.GroupByImageCount > 0) GroupByImageCount(copy, options.GroupByImageCount * options.BatchSize);
        return [.. copy];
    }

    /// <summary>
    /// Sorts each run of <paramref name="megaBatch"/> examples by image count, most first: a pure function of the
    /// shuffled window, so resuming mid-window replays the same order. The stable sort keeps the shuffle among equals.
    /// </summary>
    private static void GroupByImageCount(LoaderExample[] examples, int megaBatch)
    {
        for (int start = 0; start < examples.Length; start += megaBatch)
        {
            int n = Math.Min(megaBatch, examples.Length - start);
            var sorted = examples.AsSpan(start, n).ToArray()
                .OrderByDescending(e => e.Images.Length).ToArray();
            sorted.CopyTo(examples.AsSpan(start, n));
        }
    }

    private IEnumerable<RawBatch> RawBatches(LoaderState start)
    {
        int shardCount = MyShards().Count;
        _counts = start.ShardCounts is { } known && known.Length == shardCount ? (int[])known.Clone() : Enumerable.Repeat(-1, shardCount).ToArray();
        long batches = start.Batches;
        for (int epoch = start.Epoch; options.Epochs is not { } max || epoch < max; epoch++)
        {
            // Resume: whole windows before the saved position are stepped over, the rest of the current
            // window is read, shuffled as in the uninterrupted run, and dropped up to the position.
            long skip = epoch == start.Epoch ? start.Consumed : 0;
            long aligned = skip / Window * Window;
            long consumed = aligned;
            skip -= aligned;
            var batch = new List<LoaderExample>(options.BatchSize);
            foreach (var ex in EpochExamples(epoch, aligned, _counts))
            {
                consumed++;
                if (skip > 0) { skip--; continue; }
                batch.Add(ex);
                if (batch.Count == options.BatchSize)
                {
                    yield return new RawBatch(batch, State(epoch, consumed, ++batches));
                    batch = new List<LoaderExample>(options.BatchSize);
                }
            }
            if (batch.Count > 0 && !options.DropLast) yield return new RawBatch(batch, State(epoch, consumed, ++batches));
            if (consumed == 0) yield break; // no data at all: do not spin through empty epochs
        }
    }

    private LoaderState State(int epoch, long consumed, long batches) =>
        new()
        {
            Epoch = epoch, Consumed = consumed, Seed = options.Seed, Rank = options.Rank, WorldSize = options.WorldSize,
            Batches = batches, ShardCounts = (int[])_counts.Clone(),
        };

    private DataBatch Build(RawBatch raw)
    {
        var examples = raw.Examples;
        int b = examples.Count, len = examples.Max(e => e.Ids.Length);
        var ids = new long[b * len];
        var labels = new long[b * len];
        Array.Fill(ids, options.PadId);
        Array.Fill(labels, DataBatch.IgnoreIndex);
        int imageCount = 0;
        for (int row = 0; row < b; row++)
        {
            var e = examples[row];
            for (int t = 0; t < e.Ids.Length; t++)
            {
                int id = e.Ids[t];
                ids[row * len + t] = id;
                labels[row * len + t] = e.Labels is { } l ? l[t] : id == CaptionSampleBuilder.ImageMarker ? DataBatch.IgnoreIndex : id;
            }
            imageCount += e.Images.Length;
        }
        var segments = examples.Any(e => e.SegmentLengths is not null) ? SegmentIds(examples, len) : null;
        int per = preprocessor.OutputLength;
        // Every slot is written (or cleared on failure) below, so a reused buffer's old contents never show.
        var pixels = _pixelBuffers.Rent(imageCount * per);
        int k = 0, failed = 0;
        foreach (var e in examples)
            foreach (var img in e.Images)
            {
                if (!preprocessor.TryPreprocess(img.Span, options.ImageLimits, pixels.AsSpan(k * per, per), out _))
                {
                    pixels.AsSpan(k * per, per).Clear();
                    failed++;
                }
                k++;
            }
        if (failed > 0) Interlocked.Add(ref _failedImages, failed);
        return new DataBatch
        {
            BatchSize = b, SequenceLength = len, InputIds = ids, Labels = labels,
            ImageCount = imageCount, ImageSize = preprocessor.Size, Pixels = pixels, FailedImages = failed,
            ExampleIds = examples.Select(e => e.Id).ToArray(), StateAfter = raw.StateAfter, SegmentIds = segments, PixelPool = _pixelBuffers,
        };
    }

    /// <summary>[B, L] segment of every token (an unpacked row is segment 0), -1 at the right padding.</summary>
    private static int[] SegmentIds(List<LoaderExample> examples, int len)
    {
        var ids = new int[examples.Count * len];
        Array.Fill(ids, -1);
        for (int row = 0; row < examples.Count; row++)
        {
            var e = examples[row];
            int[] lengths = e.SegmentLengths ?? [e.Ids.Length];
            if (lengths.Sum() != e.Ids.Length)
                throw new InvalidDataException($"{e.Id}: segment lengths add up to {lengths.Sum()}, not its {e.Ids.Length} ids");
            int t = row * len;
            for (int s = 0; s < lengths.Length; s++)
            {
                ids.AsSpan(t, lengths[s]).Fill(s);
                t += lengths[s];
            }
        }
        return ids;
    }
}
