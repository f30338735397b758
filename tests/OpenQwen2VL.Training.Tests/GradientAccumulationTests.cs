using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Distributed;
using OpenQwen2VL.Training.Precision;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;
using static OpenQwen2VL.Tests.Training.TrainingTestKit;

namespace OpenQwen2VL.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class GradientAccumulationTests
{
    static (float[] Grads, double Loss) Accumulate(int micro)
    {
        using var model = new StandInVlm();
        model.SetTrainable(true, true, false);
        using var masters = MasterWeights.Create(model, ScalarType.Float32, CPU);
        using var data = SyntheticData(micro);
        List<OpenQwen2VL.Model.Vlm.VlmBatch> batches = [.. Enumerable.Range(0, 8 / micro).Select(_ => data.Next())];
        var (lossSum, denom) = GradientAccumulation.Run(model, masters, batches, new SingleProcessCollective(), CPU);
        var flat = cat(masters.Grads().Select(g => g.flatten()).ToArray()).data<float>().ToArray();
        double loss = (lossSum / denom).item<float>();
        foreach (var b in batches) b.Dispose();
        return (flat, loss);
    }

    [Fact]
    public void OneByEightEqualsFourByTwo()
    {
        var (g1, l1) = Accumulate(8);
        var (g4, l4) = Accumulate(2);
        Assert.Equal(l1, l4, 5);
        Assert.Equal(g1.Length, g4.Length);
        Assert.Contains(g1, x => x != 0);
        double maxDiff = g1.Zip(g4, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1e-6, $"max gradient difference {maxDiff}");
    }

    [Fact]
    public void OneByEightEqualsFourByTwoAfterAnUpdate()
    {
        var cfg = Config(steps: 1, global: 8) with { WarmupRatio = 0, LogEvery = 1 };
        var results = new List<Dictionary<string, Tensor>>();
        foreach (int micro in new[] { 8, 2 })
        {
            using var model = new StandInVlm();
            using var run = new TempDir();
            new Trainer(model, SyntheticData(micro), new TrainerOptions { Config = cfg with { MicroBatchSequences = micro }, RunDirectory = run.Path }).Run();
            results.Add(model.Snapshot());
        }
        foreach (var k in results[0].Keys)
        {
            double d = (results[0][k] - results[1][k]).abs().max().item<float>();
            Assert.True(d <= 1e-6, $"{k}: max difference {d}");
        }
    }
}
