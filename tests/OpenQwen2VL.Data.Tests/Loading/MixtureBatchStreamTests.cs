using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Tests.Loading;

public class MixtureBatchStreamTests
{
    private static readonly ImagePreprocessor Pre = new(8, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);

    /// <summary>Text-only examples whose id names their source, shard and index.</summary>
    private sealed class NamedSource(string name, int perShard) : IExampleSource
    {
        public IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats)
        {
            for (int i = 0; i < perShard; i++)
            {
                stats.CountInput();
                stats.Keep();
                yield return new LoaderExample { Ids = [1, 2, 3 + i], Images = [], Id = $"{name}/{shardPath}:{i}" };
            }
        }
    }

    private static MixtureBatchStream Mixture(double captionWeight, double interleavedWeight)
    {
        var o = new LoaderOptions { BatchSize = 2, Threads = 1, Seed = 3, ShuffleWindow = 5 };
        return new MixtureBatchStream([
            ("caption", captionWeight, new LoaderBatchStream(["c0", "c1"], new NamedSource("caption", 7), Pre, o)),
            ("interleaved", interleavedWeight, new LoaderBatchStream(["i0"], new NamedSource("interleaved", 4), Pre, o)),
        ]);
    }

    private static List<string> Take(IBatchStream stream, int n) =>
        [.. Enumerable.Range(0, n).Select(_ => string.Join(",", stream.Next().ExampleIds))];

    [Fact]
    public void EveryPrefixOfTheScheduleIsWithinOneBatchOfTheWeights()
    {
        using var mix = Mixture(0.8, 0.2);
        for (int n = 1; n <= 50; n++)
        {
            int source = mix.NextSource();
            mix.Next();
            Assert.InRange(mix.Taken[0] - 0.8 * n, -1.0, 1.0);
            Assert.InRange(mix.Taken[1] - 0.2 * n, -1.0, 1.0);
            Assert.Equal(n, mix.Taken.Sum());
            Assert.True(source is 0 or 1);
        }
        Assert.Equal([40L, 10L], mix.Taken);
    }

    [Fact]
    public void TheMixtureIsDeterministicAndEachBatchComesWholeFromOneSource()
    {
        using var a = Mixture(3, 1);
        using var b = Mixture(0.75, 0.25); // the same weights, normalised
        var first = Take(a, 24);
        Assert.Equal(first, Take(b, 24));
        Assert.All(first, batch => Assert.Single(batch.Split(',').Select(id => id.Split('/')[0]).Distinct()));
        Assert.Equal(6, first.Count(batch => batch.StartsWith("interleaved/", StringComparison.Ordinal)));
    }

    [Fact]
    public void ResumingFromASavedPositionContinuesWithTheSameBatches()
    {
        using var whole = Mixture(0.7, 0.3);
        var uninterrupted = Take(whole, 30);

        using var first = Mixture(0.7, 0.3);
        var before = Take(first, 11);
        var saved = JsonNode.Parse(first.SavePosition().ToJsonString())!; // through JSON, as a checkpoint stores it
        using var resumed = Mixture(0.7, 0.3);
        resumed.RestorePosition(saved);
        Assert.Equal(uninterrupted, [.. before, .. Take(resumed, 19)]);

        // An empty position (a fresh run) starts over.
        resumed.RestorePosition(new JsonObject());
        Assert.Equal(uninterrupted[..5], Take(resumed, 5));
    }

    [Fact]
    public void TheScheduleFindsEachSourcesNthBatchWhereItDrawsIt()
    {
        double[] weights = [0.5, 0.3, 0.2];
        var walk = new MixtureSchedule(weights);
        var sources = Enumerable.Range(0, 200).Select(j => walk.SourceAt(j)).ToList();   // the naive walk
        var lookup = new MixtureSchedule(weights);
        var rng = new Random(5);
        for (int q = 0; q < 300; q++)   // random order: IndexOf rewinds when asked for an earlier batch
        {
            int i = rng.Next(3);
            long nth = rng.Next(sources.Count(s => s == i));
            long expected = sources.Select((s, j) => (s, j)).Where(x => x.s == i).ElementAt((int)nth).j;
            Assert.Equal(expected, lookup.IndexOf(i, nth));
        }
        Assert.Equal(sources, Enumerable.Range(0, 200).Select(j => lookup.SourceAt(j)));
    }

    /// <summary>
    /// W ranks taking turns of N batches split the mixture's one stream: each rank's mixture takes its turns' indices,
    /// each of its sources decodes only its batches that fall there; read turn by turn, the ranks give exactly the
    /// batches of one reader, and a rank resumed from a saved position continues with its own.
    /// </summary>
    [Theory]
    [InlineData(2, 2)]
    [InlineData(3, 1)]
    public void RanksTakingTurnsSplitTheStreamOfOneReader(int world, int perTurn)
    {
        using var single = Mixture(0.7, 0.3);
        var whole = Take(single, 36);
        MixtureBatchStream Rank(int rank)
        {
            bool Mine(long index) => index / perTurn % world == rank;
            var o = new LoaderOptions { BatchSize = 2, Threads = 1, Seed = 3, ShuffleWindow = 5, Rank = rank, WorldSize = world, BatchesPerTurn = perTurn };
            var caption = new MixtureSchedule([0.7, 0.3]);
            var interleaved = new MixtureSchedule([0.7, 0.3]);
            return new MixtureBatchStream([
                ("caption", 0.7, new LoaderBatchStream(["c0", "c1"], new NamedSource("caption", 7), Pre, o with { TakesBatch = k => Mine(caption.IndexOf(0, k)) })),
                ("interleaved", 0.3, new LoaderBatchStream(["i0"], new NamedSource("interleaved", 4), Pre, o with { TakesBatch = k => Mine(interleaved.IndexOf(1, k)) })),
            ], Mine);
        }
        var ranks = Enumerable.Range(0, world).Select(Rank).ToList();
        var merged = new List<string>();
        for (int j = 0; j < whole.Count; j++) merged.Add(Take(ranks[j / perTurn % world], 1)[0]);
        Assert.Equal(whole, merged);

        // Rank 1 saved after its first 4 batches and resumed gives the rest of its share.
        using var first = Rank(1);
        var before = Take(first, 4);
        var saved = JsonNode.Parse(first.SavePosition().ToJsonString())!;
        using var resumed = Rank(1);
        resumed.RestorePosition(saved);
        var share = Enumerable.Range(0, whole.Count).Where(j => j / perTurn % world == 1).Select(j => whole[j]).ToList();
        Assert.Equal(share[..10], [.. before, .. Take(resumed, 6)]);
        ranks.ForEach(r => r.Dispose());
    }

    [Fact]
    public void APositionOfAnotherMixtureIsRefused()
    {
        using var mix = Mixture(0.5, 0.5);
        var other = new JsonObject { ["mixture"] = new JsonObject { ["caption"] = new JsonObject { ["taken"] = 1, ["position"] = new JsonObject() } } };
        Assert.Throws<StageContractException>(() => mix.RestorePosition(other));
    }

    [Fact]
    public void TheSpecNamesSourcesAndWeights()
    {
        Assert.True(MixtureSpec.IsMixture("caption=packed_cc/:0.8,interleaved=packed_obelics/:0.2"));
        Assert.False(MixtureSpec.IsMixture("shards:data/{000..009}.tar"));
        Assert.False(MixtureSpec.IsMixture("/data/packed"));
        var parts = MixtureSpec.Parse("caption=packed_cc/:3,interleaved=shards:x/{0..1}.tar:1");
        Assert.Equal(["caption", "interleaved"], parts.Select(p => p.Name));
        Assert.Equal(["packed_cc/", "shards:x/{0..1}.tar"], parts.Select(p => p.Source));
        Assert.Equal([0.75, 0.25], parts.Select(p => p.Weight));
    }

    [Theory]
    [InlineData("caption=packed_cc/")]
    [InlineData("caption=packed_cc/:0")]
    [InlineData("caption=packed_cc/:-1")]
    [InlineData("caption=packed_cc/:abc")]
    [InlineData("caption=a/:1,caption=b/:1")]
    [InlineData("caption=a/:1,b/:1")]
    public void ABadSpecIsOneLine(string spec)
    {
        var e = Assert.Throws<StageContractException>(() => MixtureSpec.Parse(spec));
        Assert.DoesNotContain('\n', e.Message);
    }
}
