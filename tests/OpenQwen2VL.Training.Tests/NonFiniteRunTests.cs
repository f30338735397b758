using OpenQwen2VL.Training;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;
using static OpenQwen2VL.Tests.Training.TrainingTestKit;

namespace OpenQwen2VL.Tests.Training;

/// <summary>A run never ends as a "finished" model with NaN weights or a NaN last loss.</summary>
[Collection(TorchGlobalState.Name)]
public class NonFiniteRunTests
{
    static TrainingResult Train(StandInVlm model, string dir, int steps = 4) =>
        new Trainer(model, SyntheticData(4), new TrainerOptions { Config = Config(steps), RunDirectory = dir, SaveFrozenComponents = true }).Run();

    [Fact]
    public void NaNWeightsAreRefusedBeforeTheFirstStep()
    {
        using var tmp = new TempDir();
        using var model = new StandInVlm();
        using (no_grad()) model.Parameters().First(p => p.Name == "norm").Parameter.fill_(double.NaN);
        var e = Assert.Throws<TrainingException>(() => Train(model, tmp.Path));
        Assert.Contains("NaN/Inf", e.Message);
        Assert.Contains("llm.norm", e.Message);
        Assert.False(File.Exists(Path.Combine(tmp.Path, "metrics.jsonl")), "a step ran");
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "final")));
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "checkpoints")));
    }

    [Fact]
    public void ARunWhoseLastLossIsNaNFailsWithoutFinalWeights()
    {
        using var tmp = new TempDir();
        // Only the last of 4 steps has a NaN loss: below max_non_finite_in_row, so the run reaches its end.
        using var model = new StandInVlm { NanLossFromCall = 3 };
        var e = Assert.Throws<TrainingException>(() => Train(model, tmp.Path));
        Assert.Contains("ended with a NaN/Inf loss at step 3", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "final")));
    }
}
