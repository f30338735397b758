using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Tests.Shards;

public class ShardSpecTests
{
    [Fact]
    public void NumericRangeKeepsZeroPadding()
    {
        var shards = ShardSpec.Expand("data/{00000..00127}.tar");
        Assert.Equal(128, shards.Count);
        Assert.Equal("data/00000.tar", shards[0]);
        Assert.Equal("data/00009.tar", shards[9]);
        Assert.Equal("data/00127.tar", shards[^1]);
    }

    [Fact]
    public void UnpaddedRangeListsAndProducts()
    {
        Assert.Equal(["a8.tar", "a9.tar", "a10.tar"], ShardSpec.Expand("a{8..10}.tar"));
        Assert.Equal(["x/a-0.tar", "x/a-1.tar", "x/b-0.tar", "x/b-1.tar"], ShardSpec.Expand("x/{a,b}-{0..1}.tar"));
        Assert.Equal(["p.tar", "q1.tar", "q2.tar"], ShardSpec.Expand("p.tar::q{1..2}.tar"));
        Assert.Equal(["plain.tar"], ShardSpec.Expand("plain.tar"));
    }

    [Theory]
    [InlineData("a{1..x}.tar")]
    [InlineData("a{1..3.tar")]
    [InlineData("a1}.tar")]
    [InlineData("a{b}.tar")]
    [InlineData("s{3..2}")]          // reversed
    [InlineData("s{000..1000}")]     // zero-padded bounds of different widths
    [InlineData("s{00..127}")]
    [InlineData("::")]
    public void MalformedSpecsAreRejected(string spec) => Assert.Throws<FormatException>(() => ShardSpec.Expand(spec));

    [Fact]
    public void ARangeOfBillionsIsRefusedBeforeAnyNameIsMade()
    {
        // Expanded in memory before, 21.8 GB RSS: now one line naming the spec and the cap.
        // The tester's spec: refused at once, for its mismatched padding (5 and 11 digits).
        var mismatched = Assert.Throws<FormatException>(() => ShardSpec.Expand("data/{00000..99999999999}.tar"));
        Assert.Contains("data/{00000..99999999999}.tar", mismatched.Message);
        foreach (var spec in new[] { "data/{00000000000..99999999999}.tar", "{0..99999999999}", "{0..9223372036854775807}", "{0..999}/{0..999}/{0..9}.tar", "a{0..999999}::b{0..1}" })
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<FormatException>(() => ShardSpec.Expand(spec));
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
            Assert.Contains(spec, e.Message);
            Assert.Contains("1,000,000", e.Message);
            Assert.DoesNotContain("\n", e.Message);
            Assert.Throws<FormatException>(() => ShardSpec.Enumerate(spec)); // checked when called, not when enumerated
        }
        Assert.Equal(1_000_000, ShardSpec.Count("{000000..999999}"));
        Assert.Throws<FormatException>(() => ShardSpec.Expand("{0..10}", maxShards: 10));
        Assert.Equal(11, ShardSpec.Expand("{0..10}", maxShards: 11).Count);
    }

    [Fact]
    public void EnumerateMakesNamesOneAtATime()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(["x/000000-a.tar", "x/000000-b.tar", "x/000001-a.tar"], ShardSpec.Enumerate("x/{000000..999999}-{a,b}.tar", maxShards: 2_000_000).Take(3));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Equal(ShardSpec.Expand("p{1..3}{a,b}::q"), ShardSpec.Enumerate("p{1..3}{a,b}::q"));
    }

    [Fact]
    public void RankSplitIsADisjointCover()
    {
        var shards = ShardSpec.Expand("{0..102}.tar");
        foreach (int world in new[] { 1, 2, 3, 8 })
        {
            var parts = Enumerable.Range(0, world).Select(r => ShardSpec.ForRank(shards, r, world)).ToList();
            Assert.Equal(shards.Count, parts.Sum(p => p.Count));
            Assert.Equal(shards.OrderBy(s => s), parts.SelectMany(p => p).OrderBy(s => s));
            Assert.True(parts.Max(p => p.Count) - parts.Min(p => p.Count) <= 1);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => ShardSpec.ForRank(shards, 2, 2));
    }
}
