using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Observability;
using OpenQwen2VL.Tests.Shards;
using TorchSharp;
using static TorchSharp.torch;
using static OpenQwen2VL.Tests.Training.TrainingTestKit;

namespace OpenQwen2VL.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class TrainerTests
{
    static TrainingResult Train(StandInVlm model, OpenQwen2VL.Training.Config.StageConfig cfg, string dir, int? stopAt = null, bool resume = false, int micro = 4) =>
        new Trainer(model, SyntheticData(micro), new TrainerOptions { Config = cfg, RunDirectory = dir, StopAt = stopAt, Resume = resume, SaveFrozenComponents = true }).Run();

    [Fact]
    public void TinyModelOverfitsTinyDataset()
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        using var model = new StandInVlm();
        var r = Train(model, Config(steps: 150) with { LogEvery = 10 }, dir);
        var m = MetricsLog.Read(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal(150, m.Count);
        Assert.Equal(Enumerable.Range(0, 150), m.Select(x => x.Step));
        Assert.True(r.LastLoss < 0.1 * m[0].Loss, $"loss {m[0].Loss} -> {r.LastLoss}");
        Assert.True(File.Exists(Path.Combine(dir, "loss.png")));
        foreach (var f in new[] { "llm/model.safetensors", "vision/model.safetensors", "projector.safetensors" })
            Assert.True(File.Exists(Path.Combine(dir, "final", f)), f);
        Assert.True(File.Exists(Path.Combine(dir, "config.json")));
        Assert.All(m, x => Assert.InRange(x.PaddingFraction, 0.0, 1.0));
        Assert.Contains(m, x => x.PaddingFraction > 0);
    }

    [Fact]
    public void FrozenParametersStayBitIdenticalAndTrainableOnesChange()
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        using var model = new StandInVlm();
        var before = model.Snapshot();
        Train(model, Config(steps: 5), dir);
        var after = model.Snapshot();
        foreach (var p in model.Parameters())
        {
            bool same = BitEqual(before[p.Key], after[p.Key]);
            if (p.Component == OpenQwen2VL.Training.Model.ModelComponent.Vision) Assert.True(same, $"{p.Key} changed");
            else Assert.False(same, $"{p.Key} did not change");
        }
    }

    [Fact]
    public void StopAtThenResumeGivesBitIdenticalFinalWeights()
    {
        var cfg = Config(steps: 8) with { CheckpointEvery = 3 };
        using var straightDir = new TempDir();
        var straight = straightDir.Path;
        using (var a = new StandInVlm()) Train(a, cfg, straight);

        using var splitDir = new TempDir();
        var split = splitDir.Path;
        using (var b = new StandInVlm())
        {
            var first = Train(b, cfg, split, stopAt: 4);
            Assert.True(first.Interrupted);
            Assert.Equal(4, first.StepsCompleted);
            Assert.False(Directory.Exists(Path.Combine(split, "final")));
        }
        using (var c = new StandInVlm(seed: 99))   // different init: everything must come from the checkpoint
        {
            var second = Train(c, cfg, split, resume: true);
            Assert.True(second.Finished);
            Assert.Equal(4, second.StartStep);
        }
        foreach (var f in new[] { "llm/model.safetensors", "projector.safetensors", "vision/model.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "final", f)), File.ReadAllBytes(Path.Combine(split, "final", f)));
        var m1 = MetricsLog.Read(Path.Combine(straight, "metrics.jsonl"));
        var m2 = MetricsLog.Read(Path.Combine(split, "metrics.jsonl"));
        Assert.Equal(m1.Select(x => x.Step), m2.Select(x => x.Step));
        Assert.Equal(m1.Select(x => x.Loss), m2.Select(x => x.Loss));
    }

    [Fact]
    public void ResumeWithoutCheckpointAndRestartOverCheckpointsAreRefused()
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        using var model = new StandInVlm();
        Assert.Throws<TrainingException>(() => Train(model, Config(steps: 2), dir, resume: true));
        Train(model, Config(steps: 2), dir);
        Assert.Throws<TrainingException>(() => Train(model, Config(steps: 2), dir));
    }

    [Fact]
    public void HundredStepsLeakNoTensors()
    {
        using var model = new StandInVlm();
        // Warm-up run (mid-run checkpoint, several log windows) so lazily created state exists before counting.
        var cfg = Config(steps: 100, global: 1, micro: 1) with { LogEvery = 25, CheckpointEvery = 50 };
        using var warmUp = new TempDir();
        using var measured = new TempDir();
        Train(model, cfg with { MaxSteps = 60 }, warmUp.Path, micro: 1);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Train(model, cfg, measured.Path, micro: 1);
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
    }

    [Fact]
    public void NonFiniteStepsAreSkippedCountedAndAbortAfterKInARow()
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        // Every loss is NaN (the weights are finite: NaN weights are refused before the first step).
        using var model = new StandInVlm { NanLossFromCall = 0 };
        var before = model.Snapshot();
        var e = Assert.Throws<TrainingException>(() => Train(model, Config(steps: 10) with { MaxNonFiniteInRow = 3 }, dir));
        Assert.Contains("3 optimiser steps in a row", e.Message);
        var m = MetricsLog.Read(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal(3, m.Count);
        Assert.All(m, x => Assert.True(x.Skipped));
        var after = model.Snapshot();
        foreach (var k in before.Keys)
            Assert.True(BitEqual(before[k], after[k]), $"{k} changed by a skipped step");
    }

    [Fact]
    public void Bf16ComputeKeepsFp32MastersAndLearns()
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        using var model = new StandInVlm();
        var r = Train(model, Config(steps: 60) with { Precision = "bf16", LogEvery = 20 }, dir);
        Assert.All(model.Parameters(), p => Assert.Equal(ScalarType.BFloat16, p.Parameter.dtype));
        Assert.True(r.LastLoss < 0.5 * r.FirstLoss, $"loss {r.FirstLoss} -> {r.LastLoss}");
        using var f = OpenQwen2VL.Data.Formats.SafetensorsFile.Open(Path.Combine(dir, "final", "llm", "model.safetensors"));
        Assert.All(f.Entries, e => Assert.Equal("F32", e.DType));
    }
}
