using OpenQwen2VL.Data.Formats;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// <see cref="ICheckpointTensors"/> over memory-mapped safetensors (one file or HF shards). A tensor whose stored
/// dtype matches a contiguous CPU target is copied from the mapping straight into the target; otherwise through
/// one temporary of the stored dtype. Mapped pages are released after each copy so the resident set never holds
/// the file as a second copy of the weights.
/// </summary>
public sealed unsafe class SafetensorsCheckpointTensors(SafetensorsCheckpoint checkpoint) : ICheckpointTensors
{
    public SafetensorsCheckpoint Checkpoint { get; } = checkpoint;
    public string Source => Checkpoint.Source;
    public IEnumerable<string> Names => Checkpoint.Names;
    public bool Contains(string name) => Checkpoint.Contains(name);
    public long[] Shape(string name) => Checkpoint[name].Entry.Shape;
    public string DType(string name) => Checkpoint[name].Entry.DType;

    public void CopyInto(string name, Tensor target)
    {
        var (file, e) = Checkpoint[name];
        var stored = SafetensorsTensors.ToScalarType(e.DType);
        if (TensorBytes.CanWriteDirectly(target, stored))
        {
            TensorBytes.CopyFrom(target, file.Pointer(e), e.ByteLength);
        }
        else
        {
            using var tmp = empty(e.Shape, stored);
            TensorBytes.CopyFrom(tmp, file.Pointer(e), e.ByteLength);
            target.copy_(tmp);
        }
        file.ReleasePages(e);
    }
}
