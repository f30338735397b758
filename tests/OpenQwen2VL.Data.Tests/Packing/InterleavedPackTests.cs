using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Images;
using OpenQwen2VL.Tests.Prompts;
using OpenQwen2VL.Tests.Shards;
using SkiaSharp;

namespace OpenQwen2VL.Tests.Packing;

public class InterleavedPackTests
{
    private static BpeTokenizer Tokenizer => PromptTestTokenizer.Instance;

    private static PackOptions Options(int capacity = 256) => new()
    {
        Format = PackFormat.Interleaved, Capacity = capacity, VisualTokens = 16, Seed = 1, ImageSize = 64, PacksPerShard = 4, Threads = 2,
        ImageLimits = new ImageLimits(MaxPixels: 1_000_000), MaxMemberBytes = 256 << 10,
    };

    private static readonly SyntheticInterleavedDocuments.Options s_docs = new(MaxImages: 3, ImageSide: 24);

    private static string Png => Convert.ToBase64String(TestImages.Encode(TestImages.Pattern(20, 20), SKEncodedImageFormat.Png));

    /// <summary>All packed sequences of a folder, with their images, through the loader's reader.</summary>
    private static List<LoaderExample> ReadPacks(string dir)
    {
        var stats = new SkipStats();
        var source = new PackedShardSource();
        return [.. Directory.GetFiles(dir, "packed-*.tar").Order(StringComparer.Ordinal).SelectMany(s => source.ReadShard(s, stats))];
    }

    [Fact]
    public void EachBadDocumentCaseIsCountedAndInputIsKeptPlusSkipped()
    {
        using var tmp = new TempDir();
        string docs = tmp.File("docs.jsonl");
        const int good = 20;
        SyntheticInterleavedDocuments.WriteJsonl(docs, good, s_docs);
        var expectedSkips = new Dictionary<string, long>();
        var expectedDrops = new Dictionary<string, long>();
        int keptWithDrop = 0;
        using (var f = new FileStream(docs, FileMode.Append))
        {
            void Line(byte[] bytes, string? skip, params string[] drops)
            {
                f.Write(bytes);
                f.WriteByte((byte)'\n');
                if (skip is not null) expectedSkips[skip] = expectedSkips.GetValueOrDefault(skip) + 1;
                else keptWithDrop++;
                foreach (var d in drops) expectedDrops[d] = expectedDrops.GetValueOrDefault(d) + 1;
            }
            void Json(string json, string? skip, params string[] drops) => Line(Encoding.UTF8.GetBytes(json), skip, drops);
            string garbage = Convert.ToBase64String("not an image at all"u8.ToArray());
            // Undecodable image next to a good one: the image is dropped, the document kept.
            Json($$"""{"texts":[null,"a red circle",null,"two squares"],"image_info":[{"image_base64":"{{garbage}}"},{"image_base64":"{{Png}}"}]}""", null, ImageSkipReasons.UnsupportedFormat);
            // Its only image undecodable (here: not base64): no image is left, so the document is skipped.
            Json("""{"texts":[null,"x"],"image_info":[{"image_base64":"@@notbase64@@"}]}""", InterleavedDocumentScanner.NoImagesLeft, InterleavedDocument.BadImageBase64);
            // Missing image references: an entry that embeds nothing (dropped), and more image slots than images (skipped).
            Json($$"""{"texts":[null,"linked",null,"embedded"],"image_info":[{"url":"http://example.com/a.jpg"},{"image_base64":"{{Png}}"}]}""", null, InterleavedDocument.ImageNotEmbedded);
            Json($$"""{"texts":[null,"a",null,"b"],"image_info":[{"image_base64":"{{Png}}"}]}""", InterleavedDocument.ImageSlotMismatch);
            // Empty text, and no text at all.
            Json($$"""{"texts":[null,"", "   "],"image_info":[{"image_base64":"{{Png}}"}]}""", InterleavedDocument.NoText);
            Json("""{"image_info":[]}""", InterleavedDocument.NoTexts);
            Json("""{"texts":["only words"],"image_info":[]}""", InterleavedDocumentScanner.NoImages);
            // Not UTF-8, not JSON.
            Line([.. "{\"texts\":[null,\"caf"u8, 0xE9, .. "\"],\"image_info\":[]}"u8], InterleavedDocumentScanner.InvalidUtf8);
            Json("{ truncated json", InterleavedDocumentScanner.MalformedJson);
            // Oversize: a line over the document size cap, and a single chunk longer than the capacity.
            Json($$"""{"texts":[null,"{{new string('z', 300 << 10)}}"],"image_info":[{"image_base64":"{{Png}}"}]}""", "record_too_long");
            Json($$"""{"texts":[null,"{{string.Join(' ', Enumerable.Repeat("word", 400))}}"],"image_info":[{"image_base64":"{{Png}}"}]}""", PackPipeline.OverCapacity);
        }

        var report = new PackPipeline(Tokenizer, Options()).Run([docs], tmp.File("packed"));

        long skippedCount = expectedSkips.Values.Sum();
        Assert.Equal(good + keptWithDrop + skippedCount, report.Stats.Input);
        Assert.Equal(good + keptWithDrop, report.Stats.Kept);
        Assert.Equal(expectedSkips.OrderBy(k => k.Key), report.Stats.Skipped.OrderBy(k => k.Key));
        Assert.Equal(expectedDrops.OrderBy(k => k.Key), report.DroppedImages.OrderBy(k => k.Key));
        Assert.True(report.Stats.IsBalanced);
        var stats = JsonNode.Parse(File.ReadAllText(tmp.File("packed/stats.json")))!;
        Assert.Equal(report.Stats.Input, (long)stats["input_samples"]!);
        Assert.Equal((long)stats["input_samples"]!, (long)stats["kept"]! + (long)stats["skipped_total"]!);
        Assert.False(File.Exists(tmp.File("packed/.pack-images.spill")));

        // Every kept image reaches the packs exactly once: the synthetic documents' images plus one per kept bad document.
        int syntheticImages = Enumerable.Range(0, good).Sum(i => SyntheticInterleavedDocuments.Document(i, s_docs).Images.Count);
        var packs = ReadPacks(tmp.File("packed"));
        Assert.Equal(syntheticImages + keptWithDrop, packs.Sum(p => p.Images.Length));
        Assert.All(packs, p => Assert.Equal(p.Images.Length, p.Ids.Count(id => id == MultimodalTokens.ImageMarker)));
    }

    [Fact]
    public void ALongDocumentIsSplitAtChunkBoundariesWithEachSampleCarryingItsImages()
    {
        var builder = new InterleavedPromptBuilder(Tokenizer);
        var items = new List<InterleavedItem>();
        var rng = new Random(4);
        for (int k = 0; k < 30; k++)
        {
            for (int i = rng.Next(0, 3); i > 0; i--) items.Add(new InterleavedItem.Image([(byte)k, (byte)i]));
            items.Add(new InterleavedItem.Text(string.Join(' ', Enumerable.Range(0, rng.Next(1, 12)).Select(w => $"word{w}"))));
        }
        items.Add(new InterleavedItem.Image([255])); // trailing image with no text after it
        var doc = new InterleavedDocument(items);
        var chunks = builder.Chunks(doc);
        const int capacity = 120, visual = 16;
        var samples = InterleavedSampleSplitter.Split(chunks, builder.BosId, capacity, visual, OverCapacityPolicy.Drop, out int truncated)!;

        Assert.Equal(0, truncated);
        Assert.True(samples.Count > 3);
        // Chunk boundaries, as offsets into the document's ids after <s>: every cut must be one of them.
        var boundaries = new HashSet<int> { 0 };
        int offset = 0;
        foreach (var c in chunks) boundaries.Add(offset += c.Ids.Length);
        int at = 0;
        foreach (var s in samples)
        {
            Assert.Equal(builder.BosId, s.Ids[0]);
            Assert.Contains(at, boundaries);
            int markers = s.Ids.Count(id => id == MultimodalTokens.ImageMarker);
            Assert.Equal(markers, s.Images.Count);
            Assert.Equal(s.Ids.Length + markers * (visual - 1), s.Length);
            Assert.True(s.Length <= capacity, $"sample of {s.Length} > {capacity}");
            at += s.Ids.Length - 1;
        }
        Assert.Equal(offset, at);
        // Greedy: no sample could have taken the next sample's first chunk.
        for (int i = 0; i + 1 < samples.Count; i++)
        {
            int firstChunk = chunks.Select((c, k) => (c, k)).First(x => samples[i + 1].Ids.AsSpan(1).StartsWith(x.c.Ids)).c.Ids.Length;
            Assert.True(samples[i].Length + InterleavedSampleSplitter.Length(samples[i + 1].Ids.AsSpan(1, firstChunk), visual) > capacity);
        }
        // Put back together (without the extra <s>), the samples are the whole document, images in order.
        var (whole, images) = builder.Build(doc);
        int[] joined = [builder.BosId, .. samples.SelectMany(s => s.Ids.Skip(1))];
        Assert.Equal(whole.InputIds, joined);
        Assert.Equal<byte[]>(images, [.. samples.SelectMany(s => s.Images)]);
    }

    [Fact]
    public void AChunkLongerThanTheCapacityIsDroppedOrCutAfterItsImages()
    {
        var builder = new InterleavedPromptBuilder(Tokenizer);
        var doc = new InterleavedDocument([
            new InterleavedItem.Image([1]), new InterleavedItem.Image([2]),
            new InterleavedItem.Text(string.Join(' ', Enumerable.Repeat("long", 200))),
        ]);
        var chunks = builder.Chunks(doc);
        Assert.Null(InterleavedSampleSplitter.Split(chunks, builder.BosId, 100, 16, OverCapacityPolicy.Drop, out _));
        var cut = Assert.Single(InterleavedSampleSplitter.Split(chunks, builder.BosId, 100, 16, OverCapacityPolicy.Truncate, out int truncated)!);
        Assert.Equal(1, truncated);
        Assert.Equal(100, cut.Length);
        Assert.Equal(2, cut.Images.Count);
        int[] prefix = [builder.BosId, .. chunks[0].Ids.Take(cut.Ids.Length - 1)];
        Assert.Equal(prefix, cut.Ids);
        // Capacity too small for the two images themselves: skipped even when truncating.
        Assert.Null(InterleavedSampleSplitter.Split(chunks, builder.BosId, 30, 16, OverCapacityPolicy.Truncate, out _));
    }

    [Fact]
    public void WebDatasetShardsOfDocumentsPackLikeTheSameDocumentsInJsonl()
    {
        using var tmp = new TempDir();
        SyntheticInterleavedDocuments.WriteJsonl(tmp.File("docs.jsonl"), 12, s_docs);
        SyntheticInterleavedDocuments.WriteShard(tmp.File("docs.tar"), 12, s_docs);
        var options = Options() with { Reencode = false };
        var fromJsonl = new PackPipeline(Tokenizer, options).Run([tmp.File("docs.jsonl")], tmp.File("a"));
        var fromShard = new PackPipeline(Tokenizer, options).Run([tmp.File("docs.tar")], tmp.File("b"));
        Assert.Equal(12, fromJsonl.Stats.Kept);
        Assert.Equal(12, fromShard.Stats.Kept);
        static List<string> Content(string dir) =>
            [.. ReadPacks(dir).Select(p => string.Join(",", p.Ids) + "|" + string.Join(",", p.Images.Select(i => Convert.ToHexString(i.Span)))).Order(StringComparer.Ordinal)];
        Assert.Equal(Content(tmp.File("a")), Content(tmp.File("b")));
    }

    [Fact]
    public void AShardImageNamedButAbsentIsDroppedAndCounted()
    {
        using var tmp = new TempDir();
        string shard = tmp.File("docs.tar");
        var png = TestImages.Encode(TestImages.Pattern(20, 20), SKEncodedImageFormat.Png);
        using (var w = new WebDatasetWriter(shard))
        {
            w.Write("d0", new Dictionary<string, ReadOnlyMemory<byte>>
            {
                ["json"] = """{"texts":[null,"first",null,"second"],"image_info":[{"image_name":"0.png"},{"image_name":"d0.1.png"}]}"""u8.ToArray(),
                ["0.png"] = png, // "d0.1.png" is named by its whole file name, and absent
            });
            w.Write("d1", new Dictionary<string, ReadOnlyMemory<byte>> { ["1.png"] = png }); // no document
        }
        var report = new PackPipeline(Tokenizer, Options()).Run([shard], tmp.File("packed"));
        Assert.Equal(2, report.Stats.Input);
        Assert.Equal(1, report.Stats.Kept);
        Assert.Equal(1, report.Stats.Skipped[InterleavedDocumentReader.MissingDocumentJson]);
        Assert.Equal(1, report.DroppedImages[InterleavedDocument.MissingImageMember]);
        Assert.Single(Assert.Single(ReadPacks(tmp.File("packed"))).Images);
    }

    [Fact]
    public void PacksWithDifferentImageCountsBatchIntoOneStackedPixelArray()
    {
        using var tmp = new TempDir();
        SyntheticInterleavedDocuments.WriteJsonl(tmp.File("docs.jsonl"), 30, s_docs with { MaxImages = 5 });
        new PackPipeline(Tokenizer, Options()).Run([tmp.File("docs.jsonl")], tmp.File("packed"));
        var packs = ReadPacks(tmp.File("packed"));
        Assert.True(packs.Select(p => p.Images.Length).Distinct().Count() > 1, "the test wants packs with different image counts");
        var pre = new ImagePreprocessor(16, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        var shards = Directory.GetFiles(tmp.File("packed"), "packed-*.tar").Order(StringComparer.Ordinal).ToList();
        var batches = new BatchLoader(shards, new PackedShardSource(), pre, new LoaderOptions { BatchSize = 3, Shuffle = false }).Batches().ToList();
        Assert.Equal(packs.Sum(p => p.Images.Length), batches.Sum(b => b.ImageCount));
        Assert.All(batches, b =>
        {
            Assert.Equal(0, b.FailedImages);
            Assert.Equal(b.ImageCount * 3 * 16 * 16, b.Pixels.Length);
            Assert.Equal(b.ImageCount, b.InputIds.Count(id => id == MultimodalTokens.ImageMarker));
        });
    }
}
