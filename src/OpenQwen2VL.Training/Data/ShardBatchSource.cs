using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Model.Data;
using OpenQwen2VL.Model.Vlm;

namespace OpenQwen2VL.Training.Data;

/// <summary>
/// Packed shards (`oqvl pack` output) through the data branch's <see cref="BatchLoader"/>: this rank's
/// shards, seeded shuffling, threaded image preprocessing, epochs repeated as long as the trainer asks.
/// Any other <see cref="IExampleSource"/> works the same way (e.g. <see cref="SftExampleSource"/> over
/// LLaVA JSON files, each file one "shard").
/// The position is the loader's <see cref="LoaderState"/> after the last batch handed out.
/// </summary>
public sealed class ShardBatchSource : IBatchSource
{
    readonly BatchLoader _loader;
    LoaderState? _state;
    IEnumerator<DataBatch>? _batches;

    public ShardBatchSource(IReadOnlyList<string> shards, int microBatch, int imageSize, int seed, int rank, int world)
        : this(shards, new PackedShardSource(), microBatch, imageSize, seed, rank, world, new LoaderOptions().PadId)
    {
    }

    /// <param name="padId">id right-padding fills short rows with; it must be inside the model's vocabulary</param>
    /// <param name="groupByImageCount">see <see cref="LoaderOptions.GroupByImageCount"/> (0 = off)</param>
    public ShardBatchSource(IReadOnlyList<string> shards, IExampleSource examples, int microBatch, int imageSize, int seed, int rank, int world, int padId,
        int groupByImageCount = 0)
    {
        if (shards.Count == 0) throw new ArgumentException("no shards");
        _loader = new BatchLoader(shards, examples, Preprocessor(imageSize),
            new LoaderOptions { BatchSize = microBatch, Seed = seed, Rank = rank, WorldSize = world, Epochs = null, PadId = padId, GroupByImageCount = groupByImageCount });
    }

    /// <summary>The recipe's "resize-naive" transform: resize to the tower's size, normalise with mean 0.5 / std 0.5 (notes).</summary>
    public static ImagePreprocessor Preprocessor(int imageSize) => new(imageSize, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);

    public VlmBatch Next()
    {
        _batches ??= _loader.Batches(_state).GetEnumerator();
        if (!_batches.MoveNext()) throw new InvalidOperationException("the shard loader ended (no examples in this rank's shards?)");
        _state = _batches.Current.StateAfter;
        return _batches.Current.ToVlmBatch();   // CPU tensors; the model moves them
    }

    public JsonNode SavePosition() => _state is null ? new JsonObject() : JsonNode.Parse(_state.ToJson())!;

    public void RestorePosition(JsonNode position)
    {
        _batches?.Dispose();
        _batches = null;
        _state = position is JsonObject { Count: 0 } ? null : LoaderState.FromJson(position.ToJsonString());
    }

    public void Dispose() => _batches?.Dispose();
}
