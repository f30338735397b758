using OpenQwen2VL.Training.Distributed;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Training.Distributed;

/// <summary>
/// A world of N ranks on N threads of this process, for testing what runs on every rank: each collective is a
/// rendezvous (System.Threading.Barrier) over shared slots, reduced in rank order.
/// </summary>
sealed class ThreadRanks(int world)
{
    readonly Barrier _barrier = new(world);
    readonly object?[] _slots = new object?[world];

    public ICollective Rank(int rank) => new Member(this, rank);

    /// <summary>Runs <paramref name="body"/> as every rank at once and returns their results by rank.</summary>
    public T[] Run<T>(Func<ICollective, T> body)
    {
        var results = new T[world];
        var errors = new Exception?[world];
        var threads = Enumerable.Range(0, world).Select(r => new Thread(() =>
        {
            try { results[r] = body(Rank(r)); }
            catch (Exception e) { errors[r] = e; _barrier.RemoveParticipant(); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (errors.FirstOrDefault(e => e is not null) is { } error) throw new AggregateException(error);
        return results;
    }

    T[] Exchange<T>(int rank, T mine)
    {
        _slots[rank] = mine;
        _barrier.SignalAndWait();
        var all = _slots.Select(s => (T)s!).ToArray();
        _barrier.SignalAndWait();
        return all;
    }

    sealed class Member(ThreadRanks w, int rank) : ICollective
    {
        public int Rank => rank;
        public int WorldSize => w._slots.Length;

        public void AllReduceSum(IReadOnlyList<Tensor> tensors)
        {
            using var _ = no_grad();
            foreach (var t in tensors)
            {
                using var mine = t.clone();
                var all = w.Exchange(rank, mine);
                using var sum = all[0].clone();
                for (int r = 1; r < all.Length; r++) sum.add_(all[r]);
                w._barrier.SignalAndWait();
                t.copy_(sum);
            }
        }

        public void Broadcast(IReadOnlyList<Tensor> tensors, int root)
        {
            using var _ = no_grad();
            foreach (var t in tensors)
            {
                var all = w.Exchange(rank, t);
                if (rank != root) t.copy_(all[root]);
                w._barrier.SignalAndWait();
            }
        }

        public void AllGather(Tensor local, Tensor gathered)
        {
            using var _ = no_grad();
            var all = w.Exchange(rank, local);
            long n = local.numel();
            for (int r = 0; r < all.Length; r++)
            {
                using var slot = gathered.narrow(0, r * n, n);
                slot.copy_(all[r]);
            }
            w._barrier.SignalAndWait();
        }

        public IReadOnlyList<string> AllGatherText(string text) => w.Exchange(rank, text);

        public void Barrier() => w._barrier.SignalAndWait();
    }
}
