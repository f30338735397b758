using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Distributed;

/// <summary>
/// The trainer's view of its process group. Data-parallel training all-reduces gradients and the target
/// token count through it, shards the data by <see cref="Rank"/> and, with ZeRO-1, all-gathers the updated weights;
/// multi-process backends (<see cref="MpiCollective"/>; NCCL later, see docs/distributed-training.md) plug in here.
/// Every call is collective: all ranks make it, in the same order.
/// </summary>
public interface ICollective
{
    int Rank { get; }
    int WorldSize { get; }
    /// <summary>In-place sum over all ranks.</summary>
    void AllReduceSum(IReadOnlyList<Tensor> tensors);
    /// <summary>In-place copy of <paramref name="root"/>'s tensors to every rank.</summary>
    void Broadcast(IReadOnlyList<Tensor> tensors, int root);
    /// <summary>
    /// Rank r's <paramref name="local"/> (n fp32 elements) lands at [r·n, (r+1)·n) of <paramref name="gathered"/>
    /// (WorldSize·n elements) on every rank.
    /// </summary>
    void AllGather(Tensor local, Tensor gathered);
    /// <summary>Every rank's <paramref name="text"/>, by rank.</summary>
    IReadOnlyList<string> AllGatherText(string text);
    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();
}
