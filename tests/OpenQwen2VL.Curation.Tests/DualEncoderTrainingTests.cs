using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Model.Siglip;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Curation;

[Collection(TorchGlobalState.Name)]
public sealed class DualEncoderTrainingTests
{
    internal static FilterPairs RandomPairs(int count, int size, int seed)
    {
        var rng = new Random(seed);
        var images = Enumerable.Range(0, count).Select(_ =>
        {
            var px = new byte[size * size * 3];
            rng.NextBytes(px);
            return new RgbImage(size, size, px);
        }).ToArray();
        return FilterPairs.Build(images, images.Select((_, i) => $"caption {i % 3}").ToArray(), size, new CaptionFeaturizer(32));
    }

    internal static SiglipVisionConfig TinyTower(int imageSize) => new()
    {
        HiddenSize = 8, IntermediateSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = imageSize, PatchSize = 7,
    };

    private static float[] Weights(nn.Module m) => m.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    /// <summary>
    /// With warm-up the first step runs at learning rate 0 (the schedule is HF's, which starts at 0), so a one-step run
    /// whose warm-up spans it leaves every weight as it was; without a schedule the same step moves them.
    /// </summary>
    [Theory]
    [InlineData(1.0, false)]
    [InlineData(null, true)]
    public void TheScheduleSetsTheLearningRateOfEachStep(double? warmup, bool moves)
    {
        var pairs = RandomPairs(6, 14, seed: 2);
        manual_seed(3);
        using var model = new SiglipDualEncoder(TinyTower(14), textBuckets: 32, textWidth: 8);
        var before = Weights(model);
        DualEncoderTrainer.Train(model, pairs, new DualEncoderTrainingOptions { Epochs = 1, BatchSize = 6, WarmupRatio = warmup }, CPU);
        var after = Weights(model);
        Assert.Equal(moves, !before.SequenceEqual(after));
    }

    /// <summary>
    /// The update is AdamW's at the configured learning rate: Adam's first step moves a weight by lr · g/(|g| + eps),
    /// i.e. by the learning rate for any weight whose gradient is well above eps, and never by more (no weight decay here).
    /// </summary>
    [Fact]
    public void TheFirstStepMovesEachWeightByTheLearningRate()
    {
        const double lr = 1e-3;
        var pairs = RandomPairs(6, 14, seed: 2);
        manual_seed(3);
        using var model = new SiglipDualEncoder(TinyTower(14), textBuckets: 32, textWidth: 8);
        var before = Weights(model);
        DualEncoderTrainer.Train(model, pairs, new DualEncoderTrainingOptions { Epochs = 1, BatchSize = 6, LearningRate = lr, WeightDecay = 0 }, CPU);
        var moves = Weights(model).Zip(before, (a, b) => Math.Abs((double)a - b)).ToArray();
        Assert.All(moves, d => Assert.True(d <= lr * 1.01, $"a weight moved by {d}, more than the learning rate {lr}"));
        Assert.True(moves.Count(d => d > lr * 0.9) > moves.Length / 2, "most weights should move by the learning rate");
    }

    [Fact]
    public void TheSavedVisionTowerHoldsExactlyTheTowersTensorsUnderHfNames()
    {
        using var dir = new OpenQwen2VL.Tests.Shards.TempDir();
        manual_seed(3);
        using var model = new SiglipDualEncoder(TinyTower(14), textBuckets: 32, textWidth: 8);
        string path = Path.Combine(dir.Path, "tower.safetensors");
        model.SaveVisionTower(path);
        using var file = OpenQwen2VL.Data.Formats.SafetensorsCheckpoint.Open(path);
        var expected = model.Vision.named_parameters().Select(p => p.name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, file.Names.Order(StringComparer.Ordinal).ToArray());
        Assert.All(expected, n => Assert.StartsWith("vision_model.", n));
        Assert.Contains(expected, n => n.StartsWith("vision_model.head.", StringComparison.Ordinal));
    }
}
