using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Tests.Shards;

public class SkipStatsTests
{
    [Fact]
    public void ConcurrentCountsBalanceAndSerialise()
    {
        var stats = new SkipStats();
        Parallel.For(0, 10_000, i =>
        {
            stats.CountInput();
            if (i % 10 == 0) stats.Skip(i % 20 == 0 ? "missing_caption" : "corrupt_image");
            else stats.Keep();
        });
        Assert.Equal(10_000, stats.Input);
        Assert.Equal(9_000, stats.Kept);
        Assert.Equal(500, stats.Skipped["missing_caption"]);
        Assert.True(stats.IsBalanced);
        stats.CountInput();
        Assert.False(stats.IsBalanced);

        using var dir = new TempDir();
        var path = dir.File("stats.json");
        stats.WriteJson(path);
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal(10_001, (long)json["input_samples"]!);
        Assert.Equal(500, (long)json["skipped"]!["corrupt_image"]!);
        Assert.False((bool)json["balanced"]!);
    }
}
