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
        Assert.Equal(["s3", "s2"], ShardSpec.Expand("s{3..2}"));
        Assert.Equal(["plain.tar"], ShardSpec.Expand("plain.tar"));
    }

    [Theory]
    [InlineData("a{1..x}.tar")]
    [InlineData("a{1..3.tar")]
    [InlineData("a1}.tar")]
    [InlineData("a{b}.tar")]
    public void MalformedSpecsAreRejected(string spec) => Assert.Throws<FormatException>(() => ShardSpec.Expand(spec));

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
