using OpenQwen2VL.Data.Checkpoints;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Tests.Shards;
using static OpenQwen2VL.Tests.Integration.CliInvocation;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// <c>--model RUN_FOLDER</c> of an interrupted run picks its newest USABLE checkpoint, as <c>train --resume</c> does: a
/// damaged newest one (truncated weights, a malformed trainer_state.json) is skipped with one warning line; none usable
/// is one line naming the run (exit 2).
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class DamagedRunCheckpointTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string P(string name) => _dir.File(name);

    public void Dispose() => _dir.Dispose();

    /// <summary>An interrupted tiny run with checkpoints at steps 1 and 2, and an eval image.</summary>
    private string TwoCheckpointRun()
    {
        Succeeds("synth", "--out", P("synth"), "--pretrain", "60", "--sft", "0", "--eval-images", "1", "--shard-size", "60");
        Succeeds("pack", "--input", P("synth"), "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", P("packed"),
            "--capacity", "512", "--visual-tokens", "16");
        Succeeds("train", "--stage", "pretrain", "--preset", "tiny", "--data", P("packed"), "--out", P("run"), "--stop-at", "2", "--max-steps", "3",
            "--set", "global_batch_sequences=2", "--set", "micro_batch_sequences=2", "--set", "activation_checkpointing=false", "--set", "checkpoint_every=1");
        Assert.Equal([1, 2], RunLayout.ListCheckpoints(Path.Combine(P("run"), RunLayout.Checkpoints)).Select(c => c.Step));
        return Directory.GetFiles(Path.Combine(P("synth"), "eval", "images"))[0];
    }

    private string Checkpoint(int step) => Path.Combine(P("run"), RunLayout.Checkpoints, RunLayout.StepFolderName(step));

    private static void Truncate(string file)
    {
        using var f = new FileStream(file, FileMode.Open);
        f.SetLength(f.Length / 2);
    }

    private static int WarningLines(string err) => err.Split('\n').Count(l => l.StartsWith("warning: skipping checkpoint", StringComparison.Ordinal));

    [Fact]
    public void ATruncatedNewestCheckpointIsSkippedWithOneWarning()
    {
        var image = TwoCheckpointRun();
        Truncate(Path.Combine(Checkpoint(2), RunLayout.LlmWeights));
        var (rc, _, err) = Invoke("generate", "--model", P("run"), "--image", image, "--prompt", "<image>", "--max-new-tokens", "2");
        Assert.True(rc == 0, err);
        Assert.Contains("checkpoint at step 1", err);
        Assert.Equal(1, WarningLines(err));
        Assert.Contains(RunLayout.LlmWeights + " is damaged", err);

        // evaluate resolves through the same loader.
        var (rc2, out2, err2) = Invoke("evaluate", "--model", P("run"), "--data", P("synth"), "--out", P("eval"), "--limit", "1");
        Assert.True(rc2 == 0, err2 + out2);
        Assert.Equal(1, WarningLines(err2 + out2));
    }

    [Fact]
    public void AMalformedTrainerStateSkipsTheCheckpoint_NoneUsableIsOneLine()
    {
        var image = TwoCheckpointRun();
        File.WriteAllText(Path.Combine(Checkpoint(2), TrainerState.FileName), "{\"step\": 2, \"data_position\": ");
        var (rc, _, err) = Invoke("generate", "--model", P("run"), "--image", image, "--prompt", "<image>", "--max-new-tokens", "2");
        Assert.True(rc == 0, err);
        Assert.Contains("checkpoint at step 1", err);
        Assert.Equal(1, WarningLines(err));

        File.WriteAllBytes(Path.Combine(Checkpoint(1), RunLayout.ProjectorWeights), [1, 2, 3]);
        var (rc3, out3, err3) = Invoke("generate", "--model", P("run"), "--image", image, "--prompt", "<image>", "--max-new-tokens", "2");
        Assert.Equal(2, rc3);
        var problem = (err3 + out3).Split('\n').Where(l => l.Contains("is usable", StringComparison.Ordinal)).ToList();
        Assert.Single(problem);
        Assert.Contains(P("run"), problem[0]);
    }
}
