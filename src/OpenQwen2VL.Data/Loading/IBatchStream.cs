using System.Text.Json.Nodes;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// An endless stream of model-ready batches for one rank, without a tensor library, whose position can be saved
/// in a checkpoint and restored so that a resumed run sees exactly the batches it would have seen.
/// </summary>
public interface IBatchStream : IDisposable
{
    /// <summary>The next batch of this rank's share of the data.</summary>
    DataBatch Next();
    /// <summary>The position before the next <see cref="Next"/> call, as JSON.</summary>
    JsonNode SavePosition();
    void RestorePosition(JsonNode position);
}
