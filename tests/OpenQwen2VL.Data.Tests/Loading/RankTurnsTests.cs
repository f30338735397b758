using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Loading;

/// <summary>
/// Ranks taking turns on one stream (<see cref="LoaderOptions.BatchesPerTurn"/>): W ranks with turns of k batches
/// deliver, turn by turn, exactly the batches one process delivers, so a global batch holds the same sequences for
/// any world size; each rank's saved position resumes its own share exactly.
/// </summary>
public class RankTurnsTests
{
    private static readonly Lazy<BpeTokenizer> Tokenizer = new(() => BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json")));
    private static readonly ImagePreprocessor Pre = new(16, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);

    private static BatchLoader Loader(IReadOnlyList<string> shards, LoaderOptions o) =>
        new(shards, new CaptionShardSource(new CaptionSampleBuilder(Tokenizer.Value, 16)), Pre, o);

    private static string Signature(DataBatch b) => string.Join(",", b.ExampleIds) + "|" + b.Pixels.Sum().ToString("R");

    [Theory]
    [InlineData(2, 2)]
    [InlineData(3, 1)]
    [InlineData(2, 3)]
    public void RanksInTurnRebuildTheOneProcessStream(int world, int turn)
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.Path, 3, 7, imageSide: 20);
        var o = new LoaderOptions { BatchSize = 2, Threads = 1, Seed = 3, ShuffleWindow = 5, Epochs = 2 };
        var one = Loader(shards, o).Batches().Select(Signature).ToList();
        var ranks = Enumerable.Range(0, world)
            .Select(r => Loader(shards, o with { Rank = r, WorldSize = world, BatchesPerTurn = turn }).Batches().Select(Signature).ToList()).ToList();
        // Interleave: turn t of rank r covers one-process batches [(t·W + r)·k, (t·W + r + 1)·k).
        var rebuilt = new List<string>();
        for (int t = 0; rebuilt.Count < one.Count; t++)
            for (int r = 0; r < world; r++)
                rebuilt.AddRange(ranks[r].Skip(t * turn).Take(turn));
        Assert.Equal(one, rebuilt);
        Assert.Equal(one.Count, ranks.Sum(r => r.Count));
    }

    [Fact]
    public void EachRankResumesItsOwnShareFromItsSavedState()
    {
        using var tmp = new TempDir();
        var shards = SyntheticCaptionShards.Write(tmp.Path, 3, 7, imageSide: 20);
        var o = new LoaderOptions { BatchSize = 2, Threads = 1, Seed = 3, ShuffleWindow = 5, Epochs = 1, Rank = 1, WorldSize = 2, BatchesPerTurn = 2 };
        var all = Loader(shards, o).Batches().ToList();
        foreach (int cut in new[] { 0, 1, 2 })
        {
            var saved = LoaderState.FromJson(all[cut].StateAfter!.ToJson());
            var resumed = Loader(shards, o).Batches(saved).Select(Signature).ToList();
            Assert.Equal(all.Skip(cut + 1).Select(Signature), resumed);
        }
    }
}
