using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Tests.Images;

namespace OpenQwen2VL.Tests.Loading;

/// <summary>Packs keep their members apart: segment ids in the batch, no loss across a member boundary.</summary>
public class PackedSegmentBatchTests
{
    private static readonly ImagePreprocessor Pre = new(16, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
    private static readonly ReadOnlyMemory<byte> Jpeg = TestImages.Encode(TestImages.Pattern(16, 16), SkiaSharp.SKEncodedImageFormat.Jpeg);

    /// <summary>Caption-like examples (no labels: every id trained but the image marker) of 3-10 ids, some with an image.</summary>
    private sealed class Examples(int count) : IExampleSource
    {
        public IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats)
        {
            for (int i = 0; i < count; i++)
            {
                stats.Keep();
                bool image = i % 2 == 0;
                int[] ids = [.. image ? new[] { CaptionSampleBuilder.ImageMarker } : [], .. Enumerable.Range(100 * (i + 1), 3 + i % 8)];
                yield return new LoaderExample { Ids = ids, Images = image ? [Jpeg] : [], Id = $"e{i}" };
            }
        }
    }

    [Fact]
    public void EveryPackMarksItsMembersAndNoMemberPredictsTheNextOnesFirstToken()
    {
        const int count = 9;
        var o = new LoaderOptions { BatchSize = 2, Shuffle = false, Epochs = 1, PadId = 7 };
        var alone = new BatchLoader(["s"], new Examples(count), Pre, o with { BatchSize = count }).Batches().Single();
        Assert.Null(alone.SegmentIds);
        var members = Enumerable.Range(0, count).ToDictionary(i => $"e{i}", i => new Examples(count).ReadShard("s", new SkipStats()).ElementAt(i));

        var packs = new BatchLoader(["s"], new PackingExampleSource(new Examples(count), capacity: 24, visualTokens: 4, window: 5), Pre, o).Batches().ToList();
        Assert.Equal(count, packs.Sum(b => b.ExampleIds.Sum(id => id.Count(c => c == ',') + 1)));
        foreach (var b in packs)
        {
            int len = b.SequenceLength;
            for (int row = 0; row < b.BatchSize; row++)
            {
                // The pack's members, in pack order, from its id "s:packN[e3,e0,…]".
                var names = b.ExampleIds[row].Split('[')[1].TrimEnd(']').Split(',');
                int t = 0;
                for (int s = 0; s < names.Length; s++)
                {
                    var m = members[names[s]];
                    for (int k = 0; k < m.Ids.Length; k++, t++)
                    {
                        Assert.Equal(m.Ids[k], b.InputIds[row * len + t]);
                        Assert.Equal(s, b.SegmentIds![row * len + t]);
                        // Alone, a member's first token is predicted by nothing: in the pack, by nothing either.
                        long expected = k == 0 || m.Ids[k] == CaptionSampleBuilder.ImageMarker ? DataBatch.IgnoreIndex : m.Ids[k];
                        Assert.Equal(expected, b.Labels[row * len + t]);
                    }
                }
                for (; t < len; t++) Assert.Equal(-1, b.SegmentIds![row * len + t]);
            }
        }
    }
}
