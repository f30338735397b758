using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Data.Images;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Curation;

/// <summary>Training and scoring free every intermediate: repeated runs leave the live tensor count flat.</summary>
public sealed class FilterLeakTests
{
    private static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    [Fact]
    public void TrainAndScoreDoNotLeakTensors()
    {
        var rng = new Random(4);
        var images = Enumerable.Range(0, 12).Select(_ =>
        {
            var px = new byte[8 * 8 * 3];
            rng.NextBytes(px);
            return new RgbImage(8, 8, px);
        }).ToArray();
        var pairs = FilterPairs.Build(images, images.Select((_, i) => $"caption {i % 3}").ToArray(), 8, new CaptionFeaturizer(32));
        using var model = new TinyDualEncoder(new TinyDualEncoderConfig(ImageSize: 8, TextBuckets: 32, Width: 8, EmbedDim: 8));
        var options = new DualEncoderTrainingOptions { Epochs = 2, BatchSize = 5 };
        void Run()
        {
            DualEncoderTrainer.Train(model, pairs, options, CPU);
            DualEncoderTrainer.Score(model, pairs, CPU, batchSize: 5);
        }
        Run(); // warm-up
        long before = Live;
        for (int i = 0; i < 3; i++) Run();
        Assert.Equal(before, Live);
    }
}
