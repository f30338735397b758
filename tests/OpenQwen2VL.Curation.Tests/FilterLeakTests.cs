using OpenQwen2VL.Curation.Filtering;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Curation;

/// <summary>Training and scoring free every intermediate: repeated runs leave the live tensor count flat.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class FilterLeakTests
{
    private static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    [Theory]
    [InlineData("tiny")]
    [InlineData("siglip")]
    public void TrainAndScoreDoNotLeakTensors(string encoder)
    {
        var pairs = DualEncoderTrainingTests.RandomPairs(12, encoder == "tiny" ? 8 : 14, seed: 4);
        using var model = encoder == "tiny"
            ? (nn.Module)new TinyDualEncoder(new TinyDualEncoderConfig(ImageSize: 8, TextBuckets: 32, Width: 8, EmbedDim: 8))
            : new SiglipDualEncoder(DualEncoderTrainingTests.TinyTower(14), textBuckets: 32, textWidth: 8);
        var options = new DualEncoderTrainingOptions { Epochs = 2, BatchSize = 5, WarmupRatio = encoder == "tiny" ? null : 0.1 };
        void Run()
        {
            DualEncoderTrainer.Train((IDualEncoder)model, pairs, options, CPU);
            DualEncoderTrainer.Score((IDualEncoder)model, pairs, CPU, batchSize: 5);
        }
        Run(); // warm-up
        long before = Live;
        for (int i = 0; i < 3; i++) Run();
        Assert.Equal(before, Live);
    }
}
