using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Model.Data;
using OpenQwen2VL.Model.Vlm;

namespace OpenQwen2VL.Training.Data;

/// <summary>The trainer's view of any torch-free <see cref="IBatchStream"/>: its batches as CPU tensors (the model moves them).</summary>
public sealed class BatchStreamSource(IBatchStream stream) : IBatchSource
{
    public IBatchStream Stream { get; } = stream;

    public VlmBatch Next()
    {
        // The tensors are copies: the batch's pixel buffer goes back to the loader for the next batch.
        using var batch = Stream.Next();
        return batch.ToVlmBatch();
    }

    public JsonNode SavePosition() => Stream.SavePosition();

    public void RestorePosition(JsonNode position) => Stream.RestorePosition(position);

    public void Dispose() => Stream.Dispose();
}
