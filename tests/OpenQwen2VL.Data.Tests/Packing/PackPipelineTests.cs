using OpenQwen2VL.Synthetic;
using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Tests.Images;
using OpenQwen2VL.Tests.Shards;
using SkiaSharp;

namespace OpenQwen2VL.Tests.Packing;

public class PackPipelineTests
{
    private static readonly Lazy<BpeTokenizer> Tokenizer = new(() => BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json")));

    private static PackOptions SmallOptions(int seed = 3) => new()
    {
        Capacity = 256, VisualTokens = 16, Seed = seed, ImageSize = 48, PacksPerShard = 3, Threads = 2,
        ImageLimits = new ImageLimits(MaxPixels: 1_000_000),
    };

    private static Dictionary<string, ReadOnlyMemory<byte>> Members(params (string Ext, byte[] Bytes)[] m) =>
        m.ToDictionary(x => x.Ext, x => (ReadOnlyMemory<byte>)x.Bytes);

    /// <summary>
    /// Shards with every kind of damage the issue lists, each injected a known number of times:
    /// returns the shard list (including an empty and a missing shard) and the expected skip counts.
    /// </summary>
    internal static (List<string> Shards, Dictionary<string, long> Expected, int Good) DamagedSet(string dir)
    {
        var expected = new Dictionary<string, long>();
        var good = 0;
        var jpg = TestImages.Encode(TestImages.Pattern(40, 30), SKEncodedImageFormat.Jpeg);
        var s0 = Path.Combine(dir, "in-00000.tar");
        using (var w = new WebDatasetWriter(s0))
        {
            for (int i = 0; i < 10; i++) { w.Write($"a{i:D3}", SyntheticCaptionShards.Sample(i, 40)); good++; }
            void Bad(string key, string reason, Dictionary<string, ReadOnlyMemory<byte>> m)
            {
                w.Write(key, m);
                expected[reason] = expected.GetValueOrDefault(reason) + 1;
            }
            var txt = Encoding.UTF8.GetBytes("a caption");
            Bad("b000", Img2DatasetParser.MissingCaption, Members(("jpg", jpg)));
            Bad("b001", Img2DatasetParser.EmptyCaption, Members(("jpg", jpg), ("txt", "  \n"u8.ToArray())));
            Bad("b002", Img2DatasetParser.InvalidUtf8Caption, Members(("jpg", jpg), ("txt", [0x61, 0xFF, 0xFE, 0x62])));
            Bad("b003", Img2DatasetParser.MissingImage, Members(("txt", txt), ("json", "{\"uid\":\"x\"}"u8.ToArray())));
            Bad("b004", ImageSkipReasons.TruncatedImage, Members(("jpg", jpg[..(jpg.Length / 2)]), ("txt", txt)));
            Bad("b005", ImageSkipReasons.TooSmall, Members(("png", TestImages.Encode(TestImages.Pattern(1, 1), SKEncodedImageFormat.Png)), ("txt", txt)));
            Bad("b006", ImageSkipReasons.TooManyPixels,
                Members(("png", TestImages.PatchPngSize(TestImages.Encode(TestImages.Pattern(8, 8), SKEncodedImageFormat.Png), 30000, 30000)), ("txt", txt)));
            Bad("b007", PackPipeline.OverCapacity, Members(("jpg", jpg), ("txt", Encoding.UTF8.GetBytes(string.Join(' ', Enumerable.Repeat("word", 400))))));
            Bad("b008", ImageSkipReasons.UnsupportedFormat, Members(("jpg", "not an image at all"u8.ToArray()), ("txt", txt)));
            for (int i = 10; i < 14; i++) { w.Write($"a{i:D3}", SyntheticCaptionShards.Sample(i, 40)); good++; }
        }
        // A shard cut inside its 6th sample's image: the 5 samples before it survive.
        var full = Path.Combine(dir, "full.tmpdata");
        using (var w = new WebDatasetWriter(full))
            for (int i = 0; i < 8; i++) w.Write($"c{i:D3}", SyntheticCaptionShards.Sample(100 + i, 40));
        var bytes = File.ReadAllBytes(full);
        File.Delete(full);
        int cut = OffsetOfMember(bytes, "c005.jpg") + 200;
        var s1 = Path.Combine(dir, "in-00001.tar");
        File.WriteAllBytes(s1, bytes[..cut]);
        good += 5;
        expected["truncated_tar"] = 1;
        var s2 = Path.Combine(dir, "in-00002.tar");
        File.WriteAllBytes(s2, []);
        var s3 = Path.Combine(dir, "in-00003.tar"); // missing
        var s4 = Path.Combine(dir, "in-00004.tar");
        using (var w = new WebDatasetWriter(s4))
            for (int i = 0; i < 9; i++) { w.Write($"d{i:D3}", SyntheticCaptionShards.Sample(200 + i, 60)); good++; }
        return ([s0, s1, s2, s3, s4], expected, good);
    }

    private static int OffsetOfMember(byte[] tar, string name)
    {
        var needle = Encoding.ASCII.GetBytes(name);
        int header = tar.AsSpan().IndexOf(needle);
        return header + 512; // the data follows the 512-byte header
    }

    [Fact]
    public void DamagedInputIsCountedByReasonAndEveryKeptSampleIsPackedOnce()
    {
        using var tmp = new TempDir();
        var (shards, expected, good) = DamagedSet(tmp.Path);
        var outDir = tmp.File("packed");
        var report = new PackPipeline(Tokenizer.Value, SmallOptions()).Run(shards, outDir);

        Assert.True(report.Stats.IsBalanced);
        Assert.Equal(good, report.Stats.Kept);
        Assert.Equal(good + expected.Values.Sum(), report.Stats.Input);
        Assert.Equal(expected.OrderBy(kv => kv.Key), report.Stats.Skipped.OrderBy(kv => kv.Key));
        Assert.Equal("missing", report.Stats.DamagedShards[shards[3]]);

        var stats = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "stats.json")))!;
        Assert.Equal(report.Stats.Input, (long)stats["input_samples"]!);
        Assert.Equal(report.Stats.Kept, (long)stats["kept"]!);
        Assert.Equal(report.Packs, (long)stats["packs"]!);
        Assert.InRange((double)stats["fill_ratio"]!, 0.01, 1.0);

        // Every kept uid appears in exactly one pack, with exactly one image per sample and a header per shard.
        var uids = new List<string>();
        long packs = 0, images = 0;
        var packedDir = Directory.GetFiles(outDir, "packed-*.tar").Order().ToList();
        foreach (var shard in packedDir)
        {
            var samples = WebDatasetReader.Read(shard).ToList();
            Assert.Equal(PackedHeader.HeaderKey, samples[0].Key);
            var header = PackedHeader.Parse(samples[0].Members["json"]);
            Assert.Equal(256, header.Capacity);
            Assert.Equal(Tokenizer.Value.Fingerprint, header.TokenizerFingerprint);
            foreach (var s in samples.Skip(1))
            {
                packs++;
                var seq = PackedSequence.Parse(s.Members["json"]);
                uids.AddRange(seq.Uids);
                Assert.Equal(seq.Uids.Length, seq.ImageCount);
                Assert.Equal(seq.ImageCount, seq.Ids.Count(id => id == CaptionSampleBuilder.ImageMarker));
                Assert.True(seq.SampleLengths.Sum() <= 256);
                Assert.Equal(seq.Ids.Length + seq.ImageCount * 15, seq.SampleLengths.Sum());
                Assert.Equal(seq.ImageCount + 1, s.Members.Count);
                for (int i = 0; i < seq.ImageCount; i++)
                {
                    var img = s.Members.Single(m => m.Key.StartsWith($"img{i:D3}.", StringComparison.Ordinal)).Value;
                    Assert.True(ImageDecoder.TryDecode(img, ImageLimits.Default, out _, out _));
                    images++;
                }
            }
        }
        Assert.Equal(report.Packs, packs);
        Assert.Equal(good, images);
        Assert.Equal(good, uids.Count);
        Assert.Equal(good, uids.Distinct().Count());
        Assert.Contains("uid-0-3", uids);
    }

    [Fact]
    public void SameInputAndSeedGiveIdenticalShards()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.File("in"), 3, 12, imageSide: 48);
        var opts = SmallOptions(seed: 11);
        new PackPipeline(Tokenizer.Value, opts).Run(shards, tmp.File("a"));
        new PackPipeline(Tokenizer.Value, opts with { Threads = 1 }).Run(shards, tmp.File("b"));
        new PackPipeline(Tokenizer.Value, opts with { Seed = 12 }).Run(shards, tmp.File("c"));
        var a = Directory.GetFiles(tmp.File("a"), "packed-*.tar").Order().ToList();
        var b = Directory.GetFiles(tmp.File("b"), "packed-*.tar").Order().ToList();
        Assert.Equal(a.Select(Path.GetFileName), b.Select(Path.GetFileName));
        for (int i = 0; i < a.Count; i++) Assert.Equal(File.ReadAllBytes(a[i]), File.ReadAllBytes(b[i]));
        // Another seed reorders the packs but packs the same samples.
        static List<string> Uids(string dir) => Directory.GetFiles(dir, "packed-*.tar").Order()
            .SelectMany(f => WebDatasetReader.Read(f)).Where(s => s.Key != PackedHeader.HeaderKey)
            .SelectMany(s => PackedSequence.Parse(s.Members["json"]).Uids).ToList();
        Assert.NotEqual(Uids(tmp.File("a")), Uids(tmp.File("c")));
        Assert.Equal(Uids(tmp.File("a")).Order(), Uids(tmp.File("c")).Order());
    }

    /// <summary>
    /// Re-encoding decodes each image once (at the scan): every packed image must still be what decoding its original,
    /// shrinking the RGB image and encoding it gives (the write-time path pack used before), or the original bytes
    /// where that JPEG is not smaller; the temporary spill file is gone afterwards.
    /// </summary>
    [Fact]
    public void ReencodedImagesAreTheShrunkJpegOfTheOriginalOrTheOriginal()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.File("in"), 2, 8, imageSide: 80);
        var opts = SmallOptions();
        var report = new PackPipeline(Tokenizer.Value, opts).Run(shards, tmp.File("out"));
        var originals = shards.SelectMany(f => WebDatasetReader.Read(f))
            .Select(s => { Assert.True(Img2DatasetParser.TryParse(s, out var p, out _)); return p!; })
            .ToDictionary(p => p.Uid, p => p.Image.ToArray());
        int reencoded = 0, packed = 0;
        foreach (var sample in Directory.GetFiles(tmp.File("out"), "packed-*.tar").SelectMany(f => WebDatasetReader.Read(f)))
        {
            if (sample.Key == PackedHeader.HeaderKey) continue;
            var seq = PackedSequence.Parse(sample.Members["json"]);
            for (int i = 0; i < seq.Uids.Length; i++)
            {
                var original = originals[seq.Uids[i]];
                Assert.True(ImageDecoder.TryDecode(original, opts.ImageLimits, out var rgb, out _));
                var shrunk = ImageEncoder.EncodeJpeg(ImageEncoder.ResizeShortSide(rgb!, opts.ImageSize), opts.JpegQuality);
                var expected = shrunk.Length < original.Length ? shrunk : original;
                var member = sample.Members.Single(m => m.Key.StartsWith($"img{i:D3}.", StringComparison.Ordinal));
                Assert.Equal(expected, member.Value);
                if (expected == shrunk) { reencoded++; Assert.Equal($"img{i:D3}.jpg", member.Key); }
                packed++;
            }
        }
        Assert.Equal(16, packed);
        Assert.Equal(reencoded, report.ReencodedImages);
        Assert.True(reencoded > 0);
        Assert.Equal(originals.Values.Sum(o => (long)o.Length) - packedBytes(), report.ReencodeBytesSaved);
        Assert.Empty(Directory.GetFiles(tmp.File("out"), "*.spill", SearchOption.AllDirectories));

        long packedBytes() => Directory.GetFiles(tmp.File("out"), "packed-*.tar").SelectMany(f => WebDatasetReader.Read(f))
            .Where(s => s.Key != PackedHeader.HeaderKey).SelectMany(s => s.Members).Where(m => m.Key.StartsWith("img", StringComparison.Ordinal)).Sum(m => (long)m.Value.Length);
    }

    [Fact]
    public void PerShardPackingNeverMixesShardsAndTruncationKeepsLongSamples()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.File("in"), 3, 30, imageSide: 40, seed: 5);
        var opts = SmallOptions() with { PerShard = true, OverCapacity = OverCapacityPolicy.Truncate, Reencode = false };
        var report = new PackPipeline(Tokenizer.Value, opts).Run(shards, tmp.File("out"));
        Assert.Equal(90, report.Stats.Kept);
        Assert.True(report.Stats.IsBalanced);
        Assert.True(report.TruncatedSamples > 0);
        Assert.Equal(report.PackCountPerShard, report.Packs);
        foreach (var f in Directory.GetFiles(tmp.File("out"), "packed-*.tar"))
            foreach (var s in WebDatasetReader.Read(f).Where(s => s.Key != PackedHeader.HeaderKey))
            {
                var seq = PackedSequence.Parse(s.Members["json"]);
                // uid-SEED-ID with ID = shard * 30 + i: one shard per pack.
                Assert.Single(seq.Uids.Select(u => int.Parse(u.Split('-')[2]) / 30).Distinct());
                Assert.All(seq.SampleLengths, l => Assert.InRange(l, 1, 256));
            }
    }
}
