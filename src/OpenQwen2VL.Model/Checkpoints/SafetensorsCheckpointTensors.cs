using OpenQwen2VL.Data.Formats;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// <see cref="ICheckpointTensors"/> over memory-mapped safetensors (one file or HF shards). A tensor whose stored
/// dtype matches a contiguous CPU target is copied from the mapping straight into the target; otherwise through
/// chunk-sized temporaries of the stored dtype. Mapped pages are released after each chunk so the resident set never holds
/// the file as a second copy of the weights.
/// </summary>
public sealed unsafe class SafetensorsCheckpointTensors(SafetensorsCheckpoint checkpoint, long chunkBytes = SafetensorsCheckpointTensors.DefaultChunkBytes) : ICheckpointTensors
{
    public SafetensorsCheckpoint Checkpoint { get; } = checkpoint;
    public string Source => Checkpoint.Source;
    public IEnumerable<string> Names => Checkpoint.Names;
    public bool Contains(string name) => Checkpoint.Contains(name);
    public long[] Shape(string name) => Checkpoint[name].Entry.Shape;
    public string DType(string name) => Checkpoint[name].Entry.DType;

    /// <summary>Bytes copied (and converted) per step; the mapped pages of a step are released right after it.</summary>
    public const long DefaultChunkBytes = 64L << 20;

    public void CopyInto(string name, Tensor target)
    {
        var (file, e) = Checkpoint[name];
        var stored = SafetensorsTensors.ToScalarType(e.DType);
        long elem = SafetensorsEntry.ElementSize(e.DType);
        if (!target.is_contiguous())
        {
            // Rare (parameters are contiguous): one temporary of the whole tensor.
            using var tmp = empty(e.Shape, stored);
            TensorBytes.CopyFrom(tmp, file.Pointer(e), e.ByteLength);
            target.copy_(tmp);
            file.ReleasePages(e);
            return;
        }
        // Chunks of the flat tensor: a multi-hundred-MB embedding never sits in RSS twice (mapped + copied),
        // and a dtype or device change needs only a chunk-sized temporary.
        bool direct = TensorBytes.CanWriteDirectly(target, stored);
        using var flat = target.view(-1);
        long perChunk = Math.Max(1, chunkBytes / elem);
        for (long start = 0; start < e.ElementCount; start += perChunk)
        {
            long n = Math.Min(perChunk, e.ElementCount - start);
            using var part = flat.narrow(0, start, n);
            if (direct)
            {
                TensorBytes.CopyFrom(part, file.Pointer(e) + start * elem, n * elem);
            }
            else
            {
                using var tmp = empty(n, stored);
                TensorBytes.CopyFrom(tmp, file.Pointer(e) + start * elem, n * elem);
                part.copy_(tmp);
            }
            file.ReleasePages(e, start * elem, n * elem);
        }
    }
}
