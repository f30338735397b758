using OpenQwen2VL.Training.Distributed;

namespace OpenQwen2VL.Tests.Training.Distributed;

/// <summary>ZeRO-1's shards against the naive split: element k of the flat vector belongs to rank k / ceil(P / W).</summary>
public class ZeroPartitionTests
{
    [Theory]
    [InlineData(new long[] { 5, 3, 9, 1 }, 2)]
    [InlineData(new long[] { 5, 3, 9, 1 }, 3)]
    [InlineData(new long[] { 5, 3, 9, 1 }, 7)]
    [InlineData(new long[] { 0, 4, 0, 4, 0 }, 3)]
    [InlineData(new long[] { 2 }, 5)]
    public void EveryElementIsOwnedByExactlyTheRankOfTheNaiveSplit(long[] counts, int world)
    {
        var z = new ZeroPartition(counts, world);
        long total = counts.Sum(), shard = (total + world - 1) / world;
        Assert.Equal(shard, z.ShardLength);
        var owner = new Dictionary<(int, long), int>();
        for (int r = 0; r < world; r++)
            foreach (var p in z.Owned(r))
            {
                Assert.True(p.Length > 0);
                for (long i = 0; i < p.Length; i++) Assert.True(owner.TryAdd((p.Parameter, p.ParameterOffset + i), r), "an element owned twice");
            }
        long k = 0;
        for (int t = 0; t < counts.Length; t++)
            for (long e = 0; e < counts[t]; e++, k++)
                Assert.Equal((int)(k / shard), owner[(t, e)]);
        Assert.Equal(total, owner.Count);
    }

    [Fact]
    public void PiecesOfARangeCarryTheirFlatOffsets()
    {
        var z = new ZeroPartition([4, 4, 4], 1);
        Assert.Equal([new FlatPiece(0, 3, 3, 1), new FlatPiece(1, 0, 4, 4), new FlatPiece(2, 0, 8, 2)], z.Pieces(3, 7));
        Assert.Empty(z.Pieces(12, 5));   // all padding
    }
}
