using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training.Data;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class BatchStreamSourceTests
{
    [Fact]
    public void PackedShardsResumeFromSavedPositionWithTheSameBatches()
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        var tokenizer = BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json"));
        var raw = SyntheticCaptionShards.Write(Path.Combine(dir, "in"), 2, 10, imageSide: 20);
        new PackPipeline(tokenizer, new PackOptions { Capacity = 200, VisualTokens = 16, PacksPerShard = 2, ImageSize = 16 })
            .Run(raw, Path.Combine(dir, "packed"));
        var shards = Directory.GetFiles(Path.Combine(dir, "packed"), "packed-*.tar").Order().ToList();

        List<long[]> Ids(IBatchSource s, int n) => Enumerable.Range(0, n).Select(_ =>
        {
            using var b = s.Next();
            Assert.Equal(b.InputIds.shape, b.Labels.shape);
            Assert.Equal(b.PixelValues?.shape[0] ?? 0, b.InputIds.data<long>().ToArray().Count(t => t == VlmBatch.ImageMarker));
            return b.InputIds.data<long>().ToArray();
        }).ToList();

        BatchStreamSource Open() => new(new LoaderBatchStream(shards, new PackedShardSource(), ImagePreprocessor.ResizeNaive(16), new LoaderOptions { BatchSize = 1, Seed = 5 }));
        using var straight = Open();
        var all = Ids(straight, 6);   // runs past one epoch of the few packs: epochs repeat
        using var first = Open();
        Ids(first, 3);
        var position = first.SavePosition();
        using var resumed = Open();
        resumed.RestorePosition(position);
        Assert.Equal(all.Skip(3), Ids(resumed, 3));
    }
}
