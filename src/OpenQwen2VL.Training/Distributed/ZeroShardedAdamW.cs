using OpenQwen2VL.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Distributed;

/// <summary>
/// ZeRO stage 1: AdamW whose moments each rank keeps only for its shard of the flat parameter vector
/// (<see cref="ZeroPartition"/>), so optimizer state per rank falls by the world size. Every rank has the all-reduced
/// gradients and the masters (stage 1 shards neither); it updates its shard's pieces of the masters (views into them,
/// the same elementwise arithmetic as <see cref="MaskedAdamW"/> over whole tensors), then the updated shards are
/// all-gathered in bucket-sized rounds so every rank's masters are whole and equal again.
/// </summary>
public sealed class ZeroShardedAdamW : IMasterOptimizer
{
    readonly ICollective _collective;
    readonly IReadOnlyList<Tensor> _masters;
    readonly ZeroPartition _partition;
    readonly IReadOnlyList<FlatPiece> _owned;
    readonly List<Tensor> _views = [];
    readonly MaskedAdamW _inner;
    readonly long _roundElements;

    public ZeroPartition Partition => _partition;

    /// <param name="parameters">(key, fp32 master, weight decay), in the same order on every rank</param>
    /// <param name="bucketBytes">bytes gathered per round (all ranks' pieces together)</param>
    public ZeroShardedAdamW(IReadOnlyList<(string Key, Tensor Master, double WeightDecay)> parameters, double beta1, double beta2, double eps,
        ICollective collective, long bucketBytes)
    {
        _collective = collective;
        _masters = parameters.Select(p => p.Master).ToList();
        _partition = new ZeroPartition(_masters.Select(m => m.numel()).ToList(), collective.WorldSize);
        _owned = _partition.Owned(collective.Rank);
        var slots = new List<(string, Tensor, double)>();
        using (no_grad())
        {
            foreach (var piece in _owned)
            {
                var (key, master, wd) = parameters[piece.Parameter];
                using var flat = master.detach().view(-1);
                var view = flat.narrow(0, piece.ParameterOffset, piece.Length).DetachFromDisposeScope();
                _views.Add(view);
                slots.Add((PieceKey(key, piece), view, wd));
            }
        }
        _inner = new MaskedAdamW(slots, beta1, beta2, eps);
        _roundElements = Math.Max(1, FlatBuckets.Fp32Capacity(bucketBytes) / collective.WorldSize);
    }

    /// <summary>The state name of a piece: the parameter's key and its element range, so a shard file says what it holds.</summary>
    static string PieceKey(string key, FlatPiece p) => $"{key}[{p.ParameterOffset}:{p.ParameterOffset + p.Length}]";

    public long StateBytes => _inner.StateBytes;

    public void Step(IReadOnlyList<Tensor> grads, double lr, Tensor apply)
    {
        if (grads.Count != _masters.Count) throw new ArgumentException("one gradient per master expected");
        using (var scope = NewDisposeScope())
        {
            var pieces = _owned.Select(p => grads[p.Parameter].detach().view(-1).narrow(0, p.ParameterOffset, p.Length)).ToList();
            _inner.Step(pieces, lr, apply);
        }
        GatherMasters();
    }

    /// <summary>Every rank's updated shard into every rank's masters, one bucket-sized round at a time.</summary>
    void GatherMasters()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long shard = _partition.ShardLength;
        int world = _collective.WorldSize, rank = _collective.Rank;
        for (long start = 0; start < shard; start += _roundElements)
        {
            long n = Math.Min(_roundElements, shard - start);
            using var inner = NewDisposeScope();
            var local = zeros(n, dtype: ScalarType.Float32);
            Copy(rank * shard + start, n, local, toBuffer: true);
            var gathered = empty(n * world, dtype: ScalarType.Float32);
            _collective.AllGather(local, gathered);
            for (int q = 0; q < world; q++)
                if (q != rank) Copy(q * shard + start, n, gathered.narrow(0, q * n, n), toBuffer: false);
        }
    }

    /// <summary>Between the flat range [flatStart, flatStart + n) of the masters and a buffer of n elements.</summary>
    void Copy(long flatStart, long n, Tensor buffer, bool toBuffer)
    {
        foreach (var p in _partition.Pieces(flatStart, n))
        {
            using var flat = _masters[p.Parameter].detach().view(-1);
            using var master = flat.narrow(0, p.ParameterOffset, p.Length);
            using var slot = buffer.narrow(0, p.FlatOffset - flatStart, p.Length);
            if (toBuffer) slot.copy_(master); else master.copy_(slot);
        }
    }

    public IEnumerable<(string Name, Tensor Tensor)> StateTensors() => _inner.StateTensors();

    public void LoadState(Func<string, Tensor?> read) => _inner.LoadState(read);

    public void Dispose()
    {
        _inner.Dispose();
        foreach (var v in _views) v.Dispose();
    }
}
