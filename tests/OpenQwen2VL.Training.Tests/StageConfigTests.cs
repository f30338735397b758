using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Training;

public class StageConfigTests
{
    [Fact]
    public void StageDefaultsFollowTheNotes()
    {
        var pre = StageConfig.ForStage(Stage.Pretrain);
        Assert.Equal((5e-5, 0.01, 1.0, 0.03, 7L, 144), (pre.LearningRate, pre.WeightDecay, pre.GradClipNorm, pre.WarmupRatio, pre.Seed, pre.VisualTokens));
        Assert.False(pre.TrainVision);
        Assert.True(pre.ActivationCheckpointing);
        var sft = StageConfig.ForStage(Stage.Sft);
        // SFT: no pooling (null = the tower's full grid, 27x27 for SO400M), the "low-to-high" switch.
        Assert.Equal((2e-5, 0.1, 128, (int?)null), (sft.LearningRate, sft.WeightDecay, sft.GlobalBatchSequences, sft.VisualTokens));
        var align = StageConfig.ForStage(Stage.Align);
        Assert.False(align.TrainLlm);
        Assert.True(align.TrainProjector);
    }

    [Fact]
    public void FileThenSetOverridesApplyInOrderAndUnknownKeysFail()
    {
        using var tmp = new TempDir();
        var file = tmp.File("c.json");
        File.WriteAllText(file, """{ "learning_rate": 1e-4, "max_steps": 50 }""");
        var c = StageConfig.Resolve(Stage.Sft, file, ["max_steps=20", "precision=bf16", "train_vision=true"]);
        Assert.Equal(Stage.Sft, c.Stage);
        Assert.Equal(1e-4, c.LearningRate);
        Assert.Equal(20, c.MaxSteps);
        Assert.Equal("bf16", c.Precision);
        Assert.True(c.TrainVision);
        Assert.Equal(0.1, c.WeightDecay);   // untouched SFT default
        Assert.Throws<ArgumentException>(() => StageConfig.Resolve(Stage.Sft, null, ["learning_rat=1"]));
        Assert.Throws<ArgumentException>(() => StageConfig.Resolve(Stage.Sft, null, ["max_steps=abc"]));
        // Round trip through the resolved config.json.
        var back = StageConfig.Resolve(Stage.Sft, WriteTemp(tmp, c.ToJson()), []);
        Assert.Equal(c, back);
    }

    [Fact]
    public void AccumulationStepsComeFromGlobalBatch()
    {
        var c = StageConfig.ForStage(Stage.Sft) with { GlobalBatchSequences = 128, MicroBatchSequences = 2 };
        Assert.Equal(64, c.AccumulationSteps(1));
        Assert.Equal(8, c.AccumulationSteps(8));
        Assert.Throws<ArgumentException>(() => c.AccumulationSteps(3));
    }

    static string WriteTemp(TempDir dir, string text)
    {
        var f = dir.File("resolved.json");
        File.WriteAllText(f, text);
        return f;
    }
}
