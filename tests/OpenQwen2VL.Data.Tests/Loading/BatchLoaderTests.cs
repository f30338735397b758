using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Tests.Images;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Loading;

public class BatchLoaderTests
{
    private static readonly Lazy<BpeTokenizer> Tokenizer = new(() => BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json")));
    private static readonly ImagePreprocessor Pre = new(16, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);

    private static BatchLoader CaptionLoader(IReadOnlyList<string> shards, LoaderOptions o) =>
        new(shards, new CaptionShardSource(new CaptionSampleBuilder(Tokenizer.Value, 16)), Pre, o);

    private static string Signature(DataBatch b) =>
        string.Join(",", b.ExampleIds) + "|" + string.Join(" ", b.InputIds) + "|" + b.Pixels.Sum().ToString("R");

    [Fact]
    public void ResumingFromASavedStateReplaysTheSameNextBatches()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.Path, 4, 9, imageSide: 20);
        var o = new LoaderOptions { BatchSize = 4, Threads = 2, Prefetch = 3, Seed = 5, ShuffleWindow = 7, Epochs = 2 };
        var all = CaptionLoader(shards, o).Batches().ToList();
        Assert.Equal(2 * 9, all.Count); // 36 examples per epoch in batches of 4, two epochs
        Assert.All(all.Take(9), b => Assert.Equal(0, b.StateAfter!.Epoch));

        foreach (int cut in new[] { 0, 3, 8, 9, 13 })
        {
            // Save the state after batch `cut`, round-trip it through JSON, resume in a fresh loader.
            var saved = LoaderState.FromJson(all[cut].StateAfter!.ToJson());
            var resumed = CaptionLoader(shards, o with { Threads = 1 }).Batches(saved).ToList();
            Assert.Equal(all.Skip(cut + 1).Select(Signature), resumed.Select(Signature));
            Assert.Equal(all.Skip(cut + 1).Select(b => b.StateAfter!.ToJson()), resumed.Select(b => b.StateAfter!.ToJson()));
        }
    }

    /// <summary>Examples with 1-3 images and 5-24 tokens, drawn from a seed; the shard path names the shard only.</summary>
    private sealed class MixedImageCountSource(int perShard) : IExampleSource
    {
        private static readonly ReadOnlyMemory<byte> Jpeg = TestImages.Encode(TestImages.Pattern(16, 16), SkiaSharp.SKEncodedImageFormat.Jpeg);

        public IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats)
        {
            var rng = new Random(shardPath.GetHashCode(StringComparison.Ordinal) & 0xffff);
            for (int i = 0; i < perShard; i++)
            {
                int images = 1 + rng.Next(3), tokens = 5 + rng.Next(20);
                int[] ids = [.. Enumerable.Repeat(CaptionSampleBuilder.ImageMarker, images), .. Enumerable.Range(10, tokens)];
                yield return new LoaderExample { Ids = ids, Images = Enumerable.Repeat(Jpeg, images).ToArray(), Id = $"{shardPath}:{i}" };
            }
        }
    }

    [Fact]
    public void GroupByImageCountKeepsEveryExample_PadsLess_AndResumesExactly()
    {
        string[] shards = ["a", "b", "c"];
        var o = new LoaderOptions { BatchSize = 3, Threads = 2, Seed = 5, ShuffleWindow = 12, Epochs = 1, PadId = 151643 };
        List<DataBatch> Run(LoaderOptions options, LoaderState? from = null) =>
            new BatchLoader(shards, new MixedImageCountSource(12), Pre, options).Batches(from).ToList();
        var plain = Run(o);
        var grouped = Run(o with { GroupByImageCount = 2 });
        // Padding once the model expands each image marker into 64 visual tokens (what the grouping is for).
        long Padding(IEnumerable<DataBatch> batches) => batches.Sum(b =>
        {
            var rows = b.InputIds.Chunk(b.SequenceLength).Select(r => r.Count(id => id != o.PadId) + 63L * r.Count(id => id == CaptionSampleBuilder.ImageMarker)).ToArray();
            return rows.Sum(r => rows.Max() - r);
        });
        // The same examples (a permutation within each window), with less padding.
        Assert.Equal(plain.SelectMany(b => b.ExampleIds).Order(), grouped.SelectMany(b => b.ExampleIds).Order());
        Assert.True(Padding(grouped) < Padding(plain), $"padding grouped {Padding(grouped)} vs plain {Padding(plain)}");
        // Within each run of 2 batches (one sorted run: windows hold 4 batches) image counts never increase.
        foreach (var run in grouped.Chunk(2))
            Assert.True(run.Zip(run.Skip(1)).All(p => p.First.ImageCount >= p.Second.ImageCount));
        foreach (int cut in new[] { 0, 4, 7 })
        {
            var resumed = Run(o with { GroupByImageCount = 2, Threads = 1 }, LoaderState.FromJson(grouped[cut].StateAfter!.ToJson()));
            Assert.Equal(grouped.Skip(cut + 1).Select(Signature), resumed.Select(Signature));
        }
    }

    private sealed class CountingSource(IExampleSource inner) : IExampleSource
    {
        public int ShardsOpened;
        public IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats)
        {
            Interlocked.Increment(ref ShardsOpened);
            return inner.ReadShard(shardPath, stats);
        }
    }

    [Fact]
    public void ResumeStepsOverShardsBeforeTheCurrentWindowWithoutReadingThem()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.Path, 6, 4, imageSide: 16);
        var o = new LoaderOptions { BatchSize = 2, Threads = 1, Prefetch = 1, Seed = 8, ShuffleWindow = 4 };
        var all = CaptionLoader(shards, o).Batches().ToList();
        Assert.Equal(12, all.Count);
        var counting = new CountingSource(new CaptionShardSource(new CaptionSampleBuilder(Tokenizer.Value, 16)));
        var resumed = new BatchLoader(shards, counting, Pre, o).Batches(all[9].StateAfter!).ToList();
        Assert.Equal(all.Skip(10).Select(Signature), resumed.Select(Signature));
        Assert.True(counting.ShardsOpened <= 2, $"opened {counting.ShardsOpened} shards to resume at example 20 of 24");
    }

    [Fact]
    public void OrderIsSeededThreadIndependentAndEveryExampleComesOncePerEpoch()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.Path, 3, 10, imageSide: 20);
        var o = new LoaderOptions { BatchSize = 3, Threads = 2, Seed = 1, ShuffleWindow = 8 };
        var a = CaptionLoader(shards, o).Batches().SelectMany(b => b.ExampleIds).ToList();
        var a1 = CaptionLoader(shards, o with { Threads = 1, Prefetch = 1 }).Batches().SelectMany(b => b.ExampleIds).ToList();
        var c = CaptionLoader(shards, o with { Seed = 2 }).Batches().SelectMany(b => b.ExampleIds).ToList();
        Assert.Equal(a, a1);
        Assert.Equal(30, a.Distinct().Count());
        Assert.NotEqual(a, c);
        Assert.Equal(a.Order(), c.Order());

        // Ranks split the shards: disjoint, and together everything.
        var r0 = CaptionLoader(shards, o with { Rank = 0, WorldSize = 2 }).Batches().SelectMany(b => b.ExampleIds).ToList();
        var r1 = CaptionLoader(shards, o with { Rank = 1, WorldSize = 2 }).Batches().SelectMany(b => b.ExampleIds).ToList();
        Assert.Empty(r0.Intersect(r1));
        Assert.Equal(a.Order(), r0.Concat(r1).Order());
        Assert.Throws<ArgumentException>(() => CaptionLoader(shards, o).Batches(new LoaderState { Seed = 9 }).ToList());
    }

    [Fact]
    public void CaptionBatchesArePaddedToTheLongestWithMaskedLabelsAndPixels()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.Path, 1, 5, imageSide: 24);
        var o = new LoaderOptions { BatchSize = 5, Shuffle = false, PadId = 7 };
        var batch = Assert.Single(CaptionLoader(shards, o).Batches());
        var builder = new CaptionSampleBuilder(Tokenizer.Value, 16);
        var samples = WebDatasetReader.Read(shards[0]).Select(s => { Img2DatasetParser.TryParse(s, out var p, out _); return p!; }).ToList();
        int len = samples.Max(s => builder.Build(s.Caption).Length);
        Assert.Equal(len, batch.SequenceLength);
        Assert.Equal(5, batch.ImageCount);
        for (int row = 0; row < 5; row++)
        {
            var ids = builder.Build(samples[row].Caption);
            for (int t = 0; t < len; t++)
            {
                long id = batch.InputIds[row * len + t], label = batch.Labels[row * len + t];
                if (t < ids.Length)
                {
                    Assert.Equal(ids[t], id);
                    Assert.Equal(ids[t] == CaptionSampleBuilder.ImageMarker ? -100 : ids[t], label);
                }
                else
                {
                    Assert.Equal(7, id);
                    Assert.Equal(-100, label);
                }
            }
            var expected = new float[Pre.OutputLength];
            Assert.True(Pre.TryPreprocess(samples[row].Image, ImageLimits.Default, expected, out _));
            Assert.Equal(expected, batch.Pixels.AsSpan(row * Pre.OutputLength, Pre.OutputLength).ToArray());
        }
    }

    /// <summary>Examples of 1-3 images, every third one undecodable, in two different pictures.</summary>
    private sealed class PartlyBrokenImagesSource(int perShard) : IExampleSource
    {
        private static readonly ReadOnlyMemory<byte>[] Jpegs =
        [
            TestImages.Encode(TestImages.Pattern(16, 16), SkiaSharp.SKEncodedImageFormat.Jpeg),
            TestImages.Encode(TestImages.Pattern(24, 20), SkiaSharp.SKEncodedImageFormat.Jpeg),
        ];

        public IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats)
        {
            for (int i = 0; i < perShard; i++)
            {
                int images = 1 + i % 3;
                var bytes = Enumerable.Range(0, images).Select(k => (i + k) % 3 == 0 ? "not an image"u8.ToArray() : Jpegs[(i + k) % 2]).ToArray();
                yield return new LoaderExample { Ids = [.. Enumerable.Repeat(CaptionSampleBuilder.ImageMarker, images), 10, 11], Images = bytes, Id = $"{shardPath}:{i}" };
            }
        }
    }

    /// <summary>
    /// A consumer that hands each batch back lets the loader reuse its pixel buffers: every batch must still hold exactly
    /// the plain preprocess output of its images, and zeros where an image failed, whatever the buffer held before.
    /// </summary>
    [Fact]
    public void HandedBackBatchesAreReusedWithoutStalePixels()
    {
        var shards = new[] { "s0", "s1", "s2" };
        var o = new LoaderOptions { BatchSize = 3, Threads = 2, Prefetch = 2, Seed = 9, ShuffleWindow = 5, Epochs = 2 };
        var source = new PartlyBrokenImagesSource(10);
        int batches = 0, failed = 0;
        foreach (var batch in new BatchLoader(shards, source, Pre, o).Batches())
        {
            var examples = batch.ExampleIds.Select(id => source.ReadShard(id[..2], new SkipStats()).Single(e => e.Id == id)).ToList();
            var images = examples.SelectMany(e => e.Images).ToList();
            Assert.Equal(images.Count * Pre.OutputLength, batch.Pixels.Length);
            for (int k = 0; k < images.Count; k++)
            {
                var expected = new float[Pre.OutputLength]; // stays zeros for an image that fails
                if (!Pre.TryPreprocess(images[k].Span, ImageLimits.Default, expected, out _)) failed++;
                Assert.Equal(expected, batch.Pixels.AsSpan(k * Pre.OutputLength, Pre.OutputLength).ToArray());
            }
            batch.Dispose();
            batches++;
        }
        Assert.Equal(2 * 10, batches);
        Assert.True(failed > 0);
    }

    [Fact]
    public void PackedShardsLoadAsPackedSequences()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.File("in"), 2, 10, imageSide: 20);
        var report = new PackPipeline(Tokenizer.Value, new PackOptions { Capacity = 200, VisualTokens = 16, PacksPerShard = 2, ImageSize = 16 })
            .Run(shards, tmp.File("packed"));
        var packed = Directory.GetFiles(tmp.File("packed"), "packed-*.tar").Order().ToList();
        var loader = new BatchLoader(packed, new PackedShardSource(), Pre, new LoaderOptions { BatchSize = 2, Seed = 3 });
        var batches = loader.Batches().ToList();
        Assert.Equal(report.Packs, batches.Sum(b => b.BatchSize));
        Assert.Equal(20, batches.Sum(b => b.ImageCount));
        Assert.Equal(20, batches.Sum(b => b.InputIds.Count(id => id == CaptionSampleBuilder.ImageMarker)));
        Assert.All(batches, b => Assert.Equal(0, b.FailedImages));
        Assert.True(loader.Stats.IsBalanced);
    }
}
