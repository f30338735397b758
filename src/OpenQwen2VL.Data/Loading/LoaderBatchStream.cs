using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// Shards of any <see cref="IExampleSource"/> (packed sequences, caption pairs, LLaVA SFT JSON) through the
/// <see cref="BatchLoader"/>: this rank's shards, seeded shuffling, threaded image preprocessing, epochs repeated for
/// as long as the trainer asks. The position is the loader's <see cref="LoaderState"/> after the last batch handed out.
/// </summary>
public sealed class LoaderBatchStream : IBatchStream
{
    readonly BatchLoader _loader;
    LoaderState? _state;
    IEnumerator<DataBatch>? _batches;

    /// <param name="options">the loader's settings; <see cref="LoaderOptions.Epochs"/> is forced to endless</param>
    public LoaderBatchStream(IReadOnlyList<string> shards, IExampleSource examples, ImagePreprocessor preprocessor, LoaderOptions options)
    {
        if (shards.Count == 0) throw new ArgumentException("no shards");
        _loader = new BatchLoader(shards, examples, preprocessor, options with { Epochs = null });
    }

    public DataBatch Next()
    {
        _batches ??= _loader.Batches(_state).GetEnumerator();
        if (!_batches.MoveNext()) throw new InvalidDataException("no usable examples in this rank's shards (see the skip reasons of the data's stats.json)");
        _state = _batches.Current.StateAfter;
        return _batches.Current;
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
