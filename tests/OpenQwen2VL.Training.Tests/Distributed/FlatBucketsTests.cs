using OpenQwen2VL.Training.Distributed;

namespace OpenQwen2VL.Tests.Training.Distributed;

/// <summary>The bucket plan against the naive one: element k of the concatenation goes to bucket k / C at offset k mod C.</summary>
public class FlatBucketsTests
{
    [Theory]
    [InlineData(new long[] { 5, 3, 9, 1 }, 4)]
    [InlineData(new long[] { 5, 3, 9, 1 }, 100)]
    [InlineData(new long[] { 0, 7, 0, 7 }, 7)]
    [InlineData(new long[] { 1 }, 1)]
    [InlineData(new long[] { 13, 2, 2, 40, 1 }, 6)]
    public void EveryElementLandsWhereTheNaivePlacementPutsIt(long[] counts, long capacity)
    {
        var plan = FlatBuckets.Plan(counts, capacity);
        var placed = new Dictionary<(int Tensor, long Element), (int Bucket, long Offset)>();
        for (int b = 0; b < plan.Count; b++)
            foreach (var p in plan[b])
                for (long i = 0; i < p.Length; i++)
                    Assert.True(placed.TryAdd((p.Tensor, p.TensorOffset + i), (b, p.BucketOffset + i)), "an element placed twice");
        long k = 0;
        for (int t = 0; t < counts.Length; t++)
            for (long e = 0; e < counts[t]; e++, k++)
                Assert.Equal(((int)(k / capacity), k % capacity), placed[(t, e)]);
        Assert.Equal(k, placed.Count);
        Assert.Equal((int)((k + capacity - 1) / capacity), plan.Count);
    }

    [Fact]
    public void TwentyFiveMegabytesHoldSixAndAHalfMillionFloats() => Assert.Equal(25L * 1024 * 1024 / 4, FlatBuckets.Fp32Capacity(25L << 20));
}
