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

    [Fact]
    public void TheDecodeBudgetGivenIsTheOneTheDecodersLeaseFrom()
    {
        using var tmp = new TempDir();
        SyntheticCaptionShards.Write(tmp.File("in"), 1, 6, imageSide: 24);
        var outDir = tmp.File("out");
        OpenQwen2VL.Tests.Integration.CliInvocation.Succeeds(
            "pack", "--input", tmp.File("in"), "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", outDir,
            "--capacity", "300", "--visual-tokens", "16", "--threads", "2", "--decode-budget-mib", "3");
        var stats = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "stats.json")))!;
        Assert.Equal(6, (long)stats["kept"]!);
        Assert.Equal(3L << 20, (long)stats["decode_budget_bytes"]!);
        // The decodes leased from this job's budget (a 24x24 RGBA buffer at least), not from the process-wide one.
        long peak = (long)stats["decode_peak_bytes"]!;
        Assert.InRange(peak, 24 * 24 * 4, 3L << 20);
    }

    [Fact]
    public void InterleavedDocumentsOfASynthFolderPackWithTheirFormatRecorded()
    {
        using var tmp = new TempDir();
        string synth = tmp.File("synth"), outDir = tmp.File("out");
        OpenQwen2VL.Tests.Integration.CliInvocation.Succeeds("synth", "--out", synth, "--pretrain", "2", "--sft", "0", "--eval-images", "1", "--image-size", "24");
        // Without documents in it, the folder is refused in one line that says how to get them.
        var (rc, _, err) = OpenQwen2VL.Tests.Integration.CliInvocation.Invoke(
            "pack", "--format", "interleaved", "--input", synth, "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", outDir);
        Assert.Equal(2, rc);
        Assert.Contains("synth --interleaved", err);

        OpenQwen2VL.Tests.Integration.CliInvocation.Succeeds("synth", "--out", synth, "--pretrain", "2", "--sft", "0", "--eval-images", "1", "--image-size", "24", "--interleaved", "8");
        OpenQwen2VL.Tests.Integration.CliInvocation.Succeeds(
            "pack", "--format", "interleaved", "--input", synth, "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", outDir,
            "--capacity", "64", "--visual-tokens", "16");
        var stats = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "stats.json")))!;
        Assert.Equal(8, (long)stats["input_samples"]!);
        Assert.Equal(8, (long)stats["kept"]!);
        Assert.Equal("interleaved", (string)stats["format"]!);
        Assert.True((long)stats["samples"]! > 8, "64-token samples cut the multi-image documents");
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "manifest.json")))!;
        Assert.Equal("interleaved", (string)manifest["prompt_format"]!);
        Assert.Equal(synth, (string)manifest["inputs"]![0]!["path"]!);
    }
}
