using OpenQwen2VL.Training.Distributed;
using OpenQwen2VL.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Training.Distributed;

/// <summary>
/// ZeRO-1 against the unsharded optimiser: on W thread-ranks, each updating only its shard's pieces and all-gathering,
/// every rank ends with the weights of <see cref="MaskedAdamW"/> over whole tensors, bit for bit (AdamW is elementwise),
/// while holding 1/W of the moments.
/// </summary>
[Collection(TorchGlobalState.Name)]
public class ZeroShardedAdamWTests
{
    static readonly long[][] Shapes = [[3, 5], [7], [2, 2, 3], [1]];
    static readonly double[] Decay = [0.1, 0.0, 0.1, 0.0];

    static float[][] Init(int seed)
    {
        var rng = new Random(seed);
        return Shapes.Select(s => Enumerable.Range(0, (int)s.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
    }

    /// <summary>Three steps (the second one masked out, as a NaN step is) with gradients drawn from a seed.</summary>
    static float[][] Train(Func<IReadOnlyList<(string, Tensor, double)>, IMasterOptimizer> make)
    {
        var init = Init(1);
        var ps = init.Select((v, i) => tensor(v, Shapes[i])).ToList();
        using (var opt = make(ps.Select((p, i) => ($"p{i}", p, Decay[i])).ToList()))
        {
            for (int step = 0; step < 3; step++)
            {
                using var scope = NewDisposeScope();
                var grads = Init(100 + step).Select((v, i) => tensor(v).reshape(Shapes[i])).ToList();
                using var apply = tensor(step == 1 ? 0f : 1f);
                opt.Step(grads, 0.01 * (step + 1), apply);
            }
        }
        var result = ps.Select(p => p.data<float>().ToArray()).ToArray();
        ps.ForEach(p => p.Dispose());
        return result;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ShardedStepsEqualUnshardedStepsOnEveryRank(int world)
    {
        var expected = Train(ps => new MaskedAdamW(ps, 0.9, 0.999, 1e-8));
        long full = Shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b)) * 2 * sizeof(float);
        var ranks = new ThreadRanks(world).Run(c =>
        {
            long bytes = 0;
            // A bucket of 8 bytes: several all-gather rounds even at this size.
            var weights = Train(ps => { var z = new ZeroShardedAdamW(ps, 0.9, 0.999, 1e-8, c, 8 * world); bytes = z.StateBytes; return z; });
            return (weights, bytes);
        });
        foreach (var (weights, _) in ranks)
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], weights[i]);
        Assert.Equal(full, ranks.Sum(r => r.bytes));
        Assert.All(ranks, r => Assert.True(r.bytes <= full / world + 2 * sizeof(float) * world, $"{r.bytes} bytes of {full} on one of {world} ranks"));
    }
}
