using OpenQwen2VL.Data.Packing;

namespace OpenQwen2VL.Tests.Packing;

public class FirstFitDecreasingTests
{
    [Fact]
    public void MatchesTheNaiveAlgorithmBinForBinOnRandomInputs()
    {
        var rng = new Random(12345);
        for (int trial = 0; trial < 400; trial++)
        {
            int capacity = rng.Next(4) switch { 0 => rng.Next(1, 8), 1 => rng.Next(8, 100), 2 => 4096, _ => rng.Next(100, 2000) };
            int n = rng.Next(0, 600);
            // Mixtures: uniform, mostly small, few distinct values (many ties), near-capacity items, zeros.
            int kind = rng.Next(5);
            var values = Enumerable.Range(0, 1 + rng.Next(4)).Select(_ => rng.Next(0, capacity + 1)).ToArray();
            var lengths = new int[n];
            for (int i = 0; i < n; i++)
                lengths[i] = kind switch
                {
                    0 => rng.Next(0, capacity + 1),
                    1 => Math.Min(capacity, rng.Next(0, Math.Max(1, capacity / 10))),
                    2 => values[rng.Next(values.Length)],
                    3 => capacity - rng.Next(0, Math.Max(1, capacity / 3)),
                    _ => rng.Next(3) == 0 ? 0 : rng.Next(0, capacity + 1),
                };
            var fast = FirstFitDecreasing.Pack(lengths, capacity);
            var naive = NaiveFirstFitDecreasing.Pack(lengths, capacity);
            Assert.Equal(naive.BinStarts, fast.BinStarts);
            Assert.Equal(naive.Items, fast.Items);
            Assert.Equal(naive.BinLoads, fast.BinLoads);
            Assert.All(fast.BinLoads, l => Assert.InRange(l, 0, capacity));
            Assert.Equal(Enumerable.Range(0, n), fast.Items.Order());
        }
    }

    [Fact]
    public void SortIsDescendingAndStable()
    {
        var lengths = new[] { 3, 5, 3, 0, 5, 4 };
        Assert.Equal([1, 4, 5, 0, 2, 3], FirstFitDecreasing.SortDescendingStable(lengths, 5));
    }

    [Fact]
    public void RejectsItemsOverCapacity() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => FirstFitDecreasing.Pack([1, 11], 10));

    [Fact]
    public void ConcatMapsPerPartIndices()
    {
        var a = FirstFitDecreasing.Pack([6, 6], 10);
        var b = FirstFitDecreasing.Pack([4], 10);
        var all = BinPacking.Concat(10, [a, b], [[0, 2], [1]]);
        Assert.Equal(3, all.BinCount);
        Assert.Equal([0, 2, 1], all.Items);
        Assert.Equal(16.0 / 30, all.FillRatio, 12);
    }
}
