using OpenQwen2VL.Data.Formats;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// <see cref="ICheckpointTensors"/> over a set of tensors of a torch.save archive, under names chosen by the caller.
/// A contiguous view is streamed from its zip entry straight into the target; a strided view (transposed,
/// sliced) goes through one temporary holding the part of the storage it spans (from its offset to the furthest element
/// it reaches), at most <see cref="MaxSparseSpanBytes"/> or 4 times the view, so a crafted view whose strides spread a few
/// elements over a huge storage cannot make the load allocate by the file's numbers.
/// </summary>
public sealed class TorchSaveTensors(TorchSaveArchive archive, IReadOnlyDictionary<string, TorchTensorRef> tensors) : ICheckpointTensors
{
    /// <summary>A strided view may span this much of its storage whatever its own size (a transposed or column-sliced weight spans about its own size).</summary>
    public const long MaxSparseSpanBytes = 256L << 20;

    public TorchSaveArchive Archive { get; } = archive;
    public IReadOnlyDictionary<string, TorchTensorRef> Tensors { get; } = tensors;
    public string Source => Archive.Path;
    public IEnumerable<string> Names => Tensors.Keys;
    public bool Contains(string name) => Tensors.ContainsKey(name);
    public long[] Shape(string name) => Get(name).Shape;
    public string DType(string name) => Get(name).Storage.DType;

    private TorchTensorRef Get(string name) =>
        Tensors.TryGetValue(name, out var r) ? r : throw new KeyNotFoundException($"{Source}: no tensor '{name}'");

    public void CopyInto(string name, Tensor target)
    {
        var r = Get(name);
        if (!r.Shape.SequenceEqual(target.shape))
            throw new ArgumentException($"{name}: shape [{string.Join(",", r.Shape)}] does not fit target [{string.Join(",", target.shape)}]");
        if (r.ElementCount == 0) return;
        var stored = SafetensorsTensors.ToScalarType(r.Storage.DType);
        long es = SafetensorsEntry.ElementSize(r.Storage.DType);
        if (r.IsContiguous && TensorBytes.CanWriteDirectly(target, stored))
        {
            Archive.ReadStorage(r.Storage, r.StorageOffset * es, r.ElementCount * es, (pos, chunk) => TensorBytes.CopyChunk(target, pos, chunk));
            return;
        }
        // The archive validated the view (inside its storage, no overflow); only the part from the offset on is read.
        long span = r.StorageExtent - r.StorageOffset;
        if (span * es > MaxSparseSpanBytes && span / 4 > r.ElementCount)
            throw new InvalidDataException($"{Source}: tensor '{name}' ({r.ElementCount} elements) is a view spanning {span} elements of storage data/{r.Storage.Key}; such sparse views are not supported (re-save the checkpoint with contiguous tensors)");
        using var storage = empty(span, stored);
        Archive.ReadStorage(r.Storage, r.StorageOffset * es, span * es, (pos, chunk) => TensorBytes.CopyChunk(storage, pos, chunk));
        using var view = storage.as_strided(r.Shape, r.Stride, 0);
        target.copy_(view);
    }
}
