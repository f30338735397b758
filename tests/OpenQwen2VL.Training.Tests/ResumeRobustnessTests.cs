using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Checkpoints;
using OpenQwen2VL.Data.Checkpoints;
using OpenQwen2VL.Tests.Shards;
using static OpenQwen2VL.Tests.Training.TrainingTestKit;

namespace OpenQwen2VL.Tests.Training;

/// <summary>
/// --resume over damaged checkpoints: a run stopped at step 5 has checkpoints at steps 4 and 5; the test damages the
/// newest and expects the resume to warn once, continue from step 4 and finish; with both damaged, one-line refusal.
/// </summary>
[Collection(TorchGlobalState.Name)]
public class ResumeRobustnessTests
{
    static readonly OpenQwen2VL.Training.Config.StageConfig Cfg = Config(steps: 6) with { CheckpointEvery = 2, KeepLastCheckpoints = 2 };

    static TrainingResult Train(string dir, int? stopAt = null, bool resume = false, List<string>? warnings = null)
    {
        using var model = new StandInVlm();
        return new Trainer(model, SyntheticData(4), new TrainerOptions
        {
            Config = Cfg, RunDirectory = dir, StopAt = stopAt, Resume = resume, SaveFrozenComponents = true, Warn = warnings is null ? null : warnings.Add,
        }).Run();
    }

    /// <summary>A run stopped at step 5: checkpoints step 4 and step 5 (the newest); returns the newest's folder.</summary>
    static string StoppedRun(string dir)
    {
        Train(dir, stopAt: 5);
        var store = new CheckpointStore(Path.Combine(dir, "checkpoints"), 2);
        Assert.Equal(new[] { 4, 5 }, store.List().Select(c => c.Step));
        return store.Latest()!.Value.Path;
    }

    public static TheoryData<string> Damages() => ["truncated weights", "malformed state", "negative step", "absurd step", "missing optimizer"];

    static void Damage(string checkpoint, string how)
    {
        string state = Path.Combine(checkpoint, TrainerState.FileName);
        switch (how)
        {
            case "truncated weights":
                var llm = Path.Combine(checkpoint, "llm.safetensors");
                var bytes = File.ReadAllBytes(llm);
                File.WriteAllBytes(llm, bytes[..(bytes.Length / 2)]);
                break;
            case "malformed state":
                File.WriteAllText(state, "{ \"step\": 5, \"data_position\": ");
                break;
            case "negative step":
                File.WriteAllText(state, File.ReadAllText(state).Replace("\"step\": 5", "\"step\": -2"));
                break;
            case "absurd step":
                File.WriteAllText(state, File.ReadAllText(state).Replace("\"step\": 5", "\"step\": 2000000000"));
                break;
            case "missing optimizer":
                File.Delete(Path.Combine(checkpoint, "optimizer.safetensors"));
                break;
        }
    }

    [Theory]
    [MemberData(nameof(Damages))]
    public void ResumeSkipsADamagedNewestCheckpointWithOneWarning(string damage)
    {
        using var tmp = new TempDir();
        string newest = StoppedRun(tmp.Path);
        Damage(newest, damage);
        var warnings = new List<string>();
        var r = Train(tmp.Path, resume: true, warnings: warnings);
        Assert.True(r.Finished);
        Assert.Equal(4, r.StartStep);
        var warning = Assert.Single(warnings);
        Assert.Contains(newest, warning);
        Assert.DoesNotContain('\n', warning);
        // No folder with a negative step was ever written (it could never be pruned).
        Assert.DoesNotContain(Directory.GetDirectories(Path.Combine(tmp.Path, "checkpoints")), d => Path.GetFileName(d).Contains("--"));
    }

    [Fact]
    public void ResumeWithEveryCheckpointDamagedIsOneLineRefusal()
    {
        using var tmp = new TempDir();
        StoppedRun(tmp.Path);
        foreach (var (_, path) in new CheckpointStore(Path.Combine(tmp.Path, "checkpoints"), 2).List()) Damage(path, "truncated weights");
        var warnings = new List<string>();
        var e = Assert.Throws<InvalidDataException>(() => Train(tmp.Path, resume: true, warnings: warnings));
        Assert.Contains("none of the 2 checkpoint(s)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(2, warnings.Count);
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "final")));
    }

    [Fact]
    public void ANegativeStepIsNeverSaved()
    {
        using var tmp = new TempDir();
        var store = new CheckpointStore(Path.Combine(tmp.Path, "checkpoints"), 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Save(-2, _ => { }));
        Assert.DoesNotContain(Directory.GetDirectories(tmp.Path, "*", SearchOption.AllDirectories), d => d.Contains("step-"));
    }
}
