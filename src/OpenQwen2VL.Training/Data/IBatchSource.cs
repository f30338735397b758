using System.Text.Json.Nodes;
using OpenQwen2VL.Model.Vlm;

namespace OpenQwen2VL.Training.Data;

/// <summary>
/// An endless stream of micro-batches for one rank (sharded by rank at construction), whose position can
/// be saved in a checkpoint and restored so a resumed run sees exactly the batches it would have seen.
/// </summary>
public interface IBatchSource : IDisposable
{
    /// <summary>The next micro-batch of this rank's shard (CPU tensors; the caller owns it).</summary>
    VlmBatch Next();
    /// <summary>The position before the next <see cref="Next"/> call, as JSON.</summary>
    JsonNode SavePosition();
    void RestorePosition(JsonNode position);
}
