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
    public void AllGather(Tensor local, Tensor gathered)
    {
        if (gathered.numel() != local.numel()) throw new ArgumentException("a world of one gathers exactly its own elements");
        using var _ = no_grad();
        using var into = gathered.view(-1);
        using var from = local.view(-1);
        into.copy_(from);
    }
    public IReadOnlyList<string> AllGatherText(string text) => [text];
    public void Barrier() { }
}
