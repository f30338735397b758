using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Generation;

/// <summary>
/// Issue 13: a ragged batch (different lengths and image counts, left-padded) gives every row the tokens it gets alone,
/// cached and uncached decoding agree, sampling is seeded and reduces to greedy at top-k 1, and nothing leaks.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class BatchGenerationTests : IDisposable
{
    private const long M = VlmBatch.ImageMarker;
    private const int NewTokens = 10;

    private readonly TinyGenerationModel model = new(maxPositions: 256);
    private VisionLanguageModel vlm => model.Vlm;
    private Tensor pixels => model.Pixels;

    public void Dispose() => model.Dispose();

    /// <summary>Rows of 0, 1 and 2 images and of very different lengths; the third row stops early on a token of its own.</summary>
    private GenerationPrompt[] Rows(StopCriteria? thirdStop = null) =>
    [
        new([1, 5, 7]),
        new([2, M, 3, 4, 9, 11, 6, 8, 12], pixels.narrow(0, 0, 1)),
        new([M, 8, M, 10], pixels.narrow(0, 1, 2), thirdStop),
        new([13]),
    ];

    private static void DisposeRows(GenerationPrompt[] rows)
    {
        foreach (var r in rows) r.Pixels?.Dispose();
    }

    private long[][] OneAtATime(GenerationPrompt[] rows, GenerationOptions options) =>
        rows.Select(r => vlm.Generate([r], options)[0]).ToArray();

    private StopCriteria StopForThirdRow()
    {
        var rows = Rows();
        var alone = vlm.Generate([rows[2]], GenerationOptions.Greedy(NewTokens))[0];
        DisposeRows(rows);
        return new StopCriteria([alone[2]]);
    }

    /// <summary>The per-token hook sees each row's tokens in order as they come; returning false ends only that row.</summary>
    [Fact]
    public void TokenHookStreamsEachRowAndEndsRowsItRefuses()
    {
        var rows = Rows();
        var options = GenerationOptions.Greedy(NewTokens);
        var full = vlm.Generate(rows, options);
        var seen = rows.Select(_ => new List<long>()).ToArray();
        // Row 1 is refused after its third token, the others run on.
        var cut = vlm.Generate(rows, options, (r, id) => { seen[r].Add(id); return !(r == 1 && seen[r].Count == 3); });
        DisposeRows(rows);
        for (int r = 0; r < rows.Length; r++)
        {
            Assert.Equal(cut[r], seen[r]);
            Assert.Equal(r == 1 ? full[r].Take(3) : full[r], cut[r]);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchedGreedyGivesEveryRowItsOwnTokens(bool useCache)
    {
        var rows = Rows(StopForThirdRow());
        var options = GenerationOptions.Greedy(NewTokens, useCache);
        var batched = vlm.Generate(rows, options);
        var alone = OneAtATime(rows, options);
        DisposeRows(rows);
        for (int r = 0; r < rows.Length; r++) Assert.Equal(alone[r], batched[r]);
        Assert.True(batched[2].Length < NewTokens, "the third row stops early at its stop token");
        Assert.All(new[] { 0, 1, 3 }, r => Assert.Equal(NewTokens, batched[r].Length));
    }

    /// <summary>
    /// Images given already projected (one tower run shared by several prompts) give the embeddings and tokens their
    /// pixels give; a batch mixing the two forms, or a prompt giving both, is refused.
    /// </summary>
    [Fact]
    public void ProjectedImageTokensGiveWhatTheirPixelsGive()
    {
        var rows = Rows();
        using var scope = NewDisposeScope();
        Tensor projected;
        using (no_grad()) projected = vlm.ProjectImages(pixels.narrow(0, 0, 3));
        var asTokens = new GenerationPrompt[]
        {
            rows[0], rows[1] with { Pixels = null, ImageTokens = projected.narrow(0, 0, 1) },
            rows[2] with { Pixels = null, ImageTokens = projected.narrow(0, 1, 2) }, rows[3],
        };
        var options = GenerationOptions.Greedy(NewTokens);
        Assert.Equal(vlm.Generate(rows, options), vlm.Generate(asTokens, options));
        foreach (var row in rows.Where(r => r.Pixels is not null))
        {
            Tensor own;
            using (no_grad()) own = vlm.ProjectImages(row.Pixels!);
            Tensor fromPixels = vlm.PromptEmbeds(row), fromTokens = vlm.PromptEmbeds(row with { Pixels = null, ImageTokens = own });
            Assert.Equal(fromPixels.shape, fromTokens.shape);
            Assert.True(fromPixels.equal(fromTokens).all().item<bool>());
        }
        Assert.Throws<ArgumentException>(() => vlm.Generate([rows[1], asTokens[2]], options));
        Assert.Throws<ArgumentException>(() => vlm.Generate([rows[1] with { ImageTokens = projected.narrow(0, 0, 1) }], options));
        DisposeRows(rows);
    }

    [Fact]
    public void CachedAndUncachedBatchedGenerationGiveTheSameTokens()
    {
        var rows = Rows();
        var cached = vlm.Generate(rows, GenerationOptions.Greedy(NewTokens, useCache: true));
        var recomputed = vlm.Generate(rows, GenerationOptions.Greedy(NewTokens, useCache: false));
        DisposeRows(rows);
        Assert.Equal(recomputed, cached);
    }

    [Fact]
    public void PerRowStopStringsStopOnlyTheirRow()
    {
        var rows = Rows();
        var free = vlm.Generate(rows, GenerationOptions.Greedy(NewTokens));
        // Decode as "t{id}," so a stop string spans a known token; stop row 1 at its fourth token.
        static string Text(IReadOnlyList<long> ids) => string.Concat(ids.Select(i => $"t{i},"));
        var stop = new StopCriteria([], [$"t{free[1][3]},"], Text);
        var stopped = vlm.Generate([rows[0], rows[1] with { Stop = stop }, rows[2], rows[3]], GenerationOptions.Greedy(NewTokens));
        DisposeRows(rows);
        int expected = Array.IndexOf(free[1], free[1][3]) + 1;
        Assert.Equal(free[1].Take(expected), stopped[1]);
        Assert.Equal(free[0], stopped[0]);
        Assert.Equal(free[3], stopped[3]);
    }

    [Fact]
    public void SeededSamplingRepeatsAndTopKOneIsGreedy()
    {
        var rows = Rows();
        var sampling = new GenerationOptions { MaxNewTokens = NewTokens, Sample = true, Temperature = 1.5, TopP = 0.95, Seed = 5 };
        var first = vlm.Generate(rows, sampling);
        var again = vlm.Generate(rows, sampling);
        var otherSeed = vlm.Generate(rows, sampling with { Seed = 6 });
        var topOne = vlm.Generate(rows, new GenerationOptions { MaxNewTokens = NewTokens, Sample = true, TopK = 1, Temperature = 0.7, Seed = 1 });
        var greedy = vlm.Generate(rows, GenerationOptions.Greedy(NewTokens));
        DisposeRows(rows);
        Assert.Equal(first, again);
        Assert.NotEqual(first, otherSeed);
        Assert.NotEqual(greedy, first);
        Assert.Equal(greedy, topOne);
    }

    [Fact]
    public void GenerationLeavesNoLiveTensors()
    {
        var rows = Rows(new StopCriteria([3]));
        var options = new GenerationOptions { MaxNewTokens = 4, Sample = true, TopK = 5, TopP = 0.9, RepetitionPenalty = 1.3, Seed = 2 };
        vlm.Generate(rows, options); // warm-up (lazy initialisation)
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++)
        {
            vlm.Generate(rows, options);
            vlm.Generate(rows, options with { Sample = false, UseCache = false });
        }
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        DisposeRows(rows);
        Assert.Equal(before, after);
    }

    [Fact]
    public void PreallocatedCacheWritesInPlaceAndHoldsWhatWasAppended()
    {
        using var scope = NewDisposeScope();
        using var cache = new KvCache(numLayers: 1, capacity: 6);
        var steps = new[] { randn(2, 3, 3, 4), randn(2, 3, 1, 4), randn(2, 3, 2, 4) };
        var views = new List<Tensor>();
        Tensor keys = null!, values = null!;
        foreach (var step in steps)
        {
            (keys, values) = cache.Append(0, step, step.neg());
            views.Add(keys);
        }
        TensorAssert.Close(cat(steps, 2), keys, 0, "cached keys");
        TensorAssert.Close(cat(steps, 2).neg(), values, 0, "cached values");
        // One storage written in place (no concatenation): a write through the last view shows in the first step's view.
        keys.narrow(2, 0, 1).zero_();
        Assert.All(views, v => Assert.Equal(0f, v.narrow(2, 0, 1).abs().sum().item<float>()));
        Assert.Equal(6, cache.Length);
        Assert.Throws<InvalidOperationException>(() => cache.Append(0, steps[1], steps[1]));
    }
}
