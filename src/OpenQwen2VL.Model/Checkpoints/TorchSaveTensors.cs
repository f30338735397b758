using OpenQwen2VL.Data.Formats;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// <see cref="ICheckpointTensors"/> over a set of tensors of a torch.save archive, under names chosen by the caller.
/// A contiguous view is streamed from its zip entry straight into the target; a strided view (transposed,
/// sliced) goes through one temporary holding the part of the storage it reaches.
/// </summary>
public sealed class TorchSaveTensors(TorchSaveArchive archive, IReadOnlyDictionary<string, TorchTensorRef> tensors) : ICheckpointTensors
{
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
        using var storage = empty(r.StorageExtent, stored);
        Archive.ReadStorage(r.Storage, 0, r.StorageExtent * es, (pos, chunk) => TensorBytes.CopyChunk(storage, pos, chunk));
        using var view = storage.as_strided(r.Shape, r.Stride, r.StorageOffset);
        target.copy_(view);
    }
}
