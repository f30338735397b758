using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Packing;

/// <summary>Issue 16: one hostile shard among several costs its own samples, never the pack job and its stats.</summary>
public class PackPipelineHostileShardTests
{
    private static readonly Lazy<BpeTokenizer> Tokenizer = new(() => BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json")));

    [Fact]
    public void AGigabyteHeaderAnOversizedMemberAndUnsafeKeysAreCountedAndTheJobGoesOn()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp.File("in"));
        // Shard 0: four good samples, then a PAX header claiming 3 GiB (System.Formats.Tar: InvalidOperationException).
        var s0 = tmp.File("in/00000.tar");
        File.WriteAllBytes(s0, CraftedTar.Concat(
            CraftedTar.GoodSamplesOpenEnded(tmp.Path, 4, i => SyntheticCaptionShards.Sample(i, 40)),
            CraftedTar.Header("PaxHeaders/k4.jpg", 'x', 3L << 30), new byte[2048]));
        // Shard 1: a good sample, a caption over the cap, a member over the cap, a GNU member claiming 5 GiB at the end.
        var s1 = tmp.File("in/00001.tar");
        var middle = tmp.File("middle.tmpdata");
        using (var w = new WebDatasetWriter(middle))
        {
            w.Write("g0", SyntheticCaptionShards.Sample(10, 40));
            var longCaption = SyntheticCaptionShards.Sample(11, 40);
            longCaption["txt"] = Encoding.UTF8.GetBytes(new string('w', Img2DatasetParser.DefaultMaxCaptionBytes + 1));
            w.Write("g1", longCaption);
            var big = SyntheticCaptionShards.Sample(12, 40);
            big["jpg"] = new byte[2_000_000];
            w.Write("g2", big);
        }
        var middleBytes = File.ReadAllBytes(middle);
        File.Delete(middle);
        File.WriteAllBytes(s1, CraftedTar.Concat(middleBytes[..^1024], CraftedTar.Header("huge.jpg", '0', 5L << 30, gnu: true), new byte[1024]));
        // Shard 2: good, with unsafe names written by a plain TarWriter.
        var s2 = tmp.File("in/00002.tar");
        using (var fs = File.Create(s2))
        using (var tar = new System.Formats.Tar.TarWriter(fs, System.Formats.Tar.TarEntryFormat.Gnu))
            foreach (var (key, id) in new[] { ("../../evil", 20), ("/abs/evil", 21), ("fine", 22) })
                foreach (var (ext, bytes) in SyntheticCaptionShards.Sample(id, 40))
                    tar.WriteEntry(new System.Formats.Tar.GnuTarEntry(System.Formats.Tar.TarEntryType.RegularFile, $"{key}.{ext}")
                        { DataStream = new MemoryStream(bytes.ToArray()) });

        var options = new PackOptions
        {
            Capacity = 256, VisualTokens = 16, ImageSize = 48, PacksPerShard = 3, Threads = 2,
            ImageLimits = new ImageLimits(MaxPixels: 1_000_000), MaxMemberBytes = 1_500_000,
        };
        var report = new PackPipeline(Tokenizer.Value, options).Run([s0, s1, s2], tmp.File("out"));

        Assert.Equal(4 + 1 + 1, report.Stats.Kept);
        Assert.Equal(1, report.Stats.Skipped[WebDatasetReader.CorruptTar]);
        Assert.Equal(2, report.Stats.Skipped[WebDatasetReader.MemberTooLarge]);
        Assert.Equal(1, report.Stats.Skipped[Img2DatasetParser.CaptionTooLong]);
        Assert.Equal(2, report.Stats.Skipped[SampleKeys.UnsafeKey]);
        Assert.Equal(12, report.Stats.Input);
        Assert.True(report.Stats.IsBalanced);
        Assert.Contains(s0, report.Stats.DamagedShards.Keys);
        var stats = JsonNode.Parse(File.ReadAllText(tmp.File("out/stats.json")))!;
        Assert.Equal(12, (long)stats["input_samples"]!);
        Assert.True((bool)stats["balanced"]!);
    }
}
