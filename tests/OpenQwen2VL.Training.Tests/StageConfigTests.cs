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

    [Theory]
    [InlineData("max_steps=0", "max_steps 0: must be >= 1")]
    [InlineData("max_steps=-1", "max_steps -1: must be >= 1")]
    [InlineData("global_batch_sequences=0", "global_batch_sequences 0: must be >= 1")]
    [InlineData("micro_batch_sequences=0", "micro_batch_sequences 0: must be >= 1")]
    [InlineData("micro_batch_sequences=3", "not a multiple of micro_batch_sequences 3")]
    [InlineData("sequence_length=0", "sequence_length 0: must be >= 1")]
    [InlineData("group_by_image_count=-1", "group_by_image_count -1: must be >= 0")]
    [InlineData("learning_rate=-0.001", "learning_rate -0.001: must be > 0")]
    [InlineData("learning_rate=0", "learning_rate 0: must be > 0")]
    [InlineData("weight_decay=-1", "weight_decay -1: must be >= 0")]
    [InlineData("beta1=1", "beta1 1: must be in [0, 1)")]
    [InlineData("beta2=-0.5", "beta2 -0.5: must be in [0, 1)")]
    [InlineData("epsilon=0", "epsilon 0: must be > 0")]
    [InlineData("warmup_ratio=5", "warmup_ratio 5: must be in [0, 1]")]
    [InlineData("grad_clip_norm=0", "grad_clip_norm 0: must be > 0")]
    [InlineData("visual_tokens=0", "visual_tokens 0: must be a positive square")]
    [InlineData("visual_tokens=15", "visual_tokens 15: must be a positive square")]
    [InlineData("precision=fp8", "precision 'fp8': must be one of auto, bf16, fp32")]
    [InlineData("checkpoint_every=0", "checkpoint_every 0: must be >= 1")]
    [InlineData("keep_last_checkpoints=0", "keep_last_checkpoints 0: must be >= 1")]
    [InlineData("log_every=0", "log_every 0: must be >= 1")]
    [InlineData("max_non_finite_in_row=0", "max_non_finite_in_row 0: must be >= 1")]
    [InlineData("peak_flops=-1", "peak_flops -1: must be >= 0")]
    [InlineData("learning_rate=1e400", "learning_rate")]
    [InlineData("sft_packing=true", "sft_packing true: packs SFT conversations, only in --stage sft (this is pretrain)")]
    public void EveryKeyIsRangeCheckedWithOneLineNamingKeyValueAndRange(string set, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => StageConfig.Resolve(Stage.Pretrain, null, [set]));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheDefaultsOfEveryStagePassValidation()
    {
        foreach (var stage in Enum.GetValues<Stage>())
        {
            StageConfig.ForStage(stage).Validate();
            StageConfig.Resolve(stage, null, ["visual_tokens=null", "warmup_ratio=0", "warmup_ratio=1", "beta2=0", "peak_flops=0"]).Validate();
        }
    }

    static string WriteTemp(TempDir dir, string text)
    {
        var f = dir.File("resolved.json");
        File.WriteAllText(f, text);
        return f;
    }
}
