using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Distributed;

/// <summary>
/// The trainer's view of its process group. Data-parallel training all-reduces gradients and the target
/// token count through it and shards the data by <see cref="Rank"/>; multi-process backends plug in here.
/// </summary>
public interface ICollective
{
    int Rank { get; }
    int WorldSize { get; }
    /// <summary>In-place sum over all ranks.</summary>
    void AllReduceSum(IReadOnlyList<Tensor> tensors);
    /// <summary>In-place copy of <paramref name="root"/>'s tensors to every rank.</summary>
    void Broadcast(IReadOnlyList<Tensor> tensors, int root);
}
