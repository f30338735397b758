using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Distributed;

/// <summary>World of one: every collective is the identity.</summary>
public sealed class SingleProcessCollective : ICollective
{
    public int Rank => 0;
    public int WorldSize => 1;
    public void AllReduceSum(IReadOnlyList<Tensor> tensors) { }
    public void Broadcast(IReadOnlyList<Tensor> tensors, int root)
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), "single-process world has only rank 0");
    }
}
