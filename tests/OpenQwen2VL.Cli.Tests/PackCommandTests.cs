using OpenQwen2VL.Synthetic;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Packing;

public class PackCommandTests
{
    [Fact]
    public void PackCommandWritesShardsHeaderAndBalancedStats()
    {
        using var tmp = new TempDir();
        SyntheticCaptionShards.Write(tmp.File("in"), 2, 6, imageSide: 24);
        var outDir = tmp.File("out");
        var (rc, _, err) = OpenQwen2VL.Tests.Integration.CliInvocation.Invoke(
            "pack", "--input", Path.Combine(tmp.File("in"), "{00000..00002}.tar"),
            "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", outDir,
            "--capacity", "300", "--visual-tokens", "16", "--per-shard", "--over-capacity", "truncate", "--seed", "2");
        Assert.True(rc == 0, err);
        var stats = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "stats.json")))!;
        Assert.Equal(12, (long)stats["input_samples"]!);
        Assert.Equal(12, (long)stats["kept"]!);
        Assert.Equal("ffd-per-shard", (string)stats["packing"]!);
        Assert.Equal("missing", (string)stats["damaged_shards"]![Path.Combine(tmp.File("in"), "00002.tar")]!);
        Assert.True(File.Exists(Path.Combine(outDir, "header.json")));
        Assert.NotEmpty(Directory.GetFiles(outDir, "packed-*.tar"));
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp"));
    }
}
