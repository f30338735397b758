using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Shards;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Jobs;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Training;

[Collection(TorchGlobalState.Name)]
public sealed class TrainingJobTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private TrainingJobOptions Job(string run, Stage stage = Stage.Pretrain, int steps = 2) => new()
    {
        Stage = stage, Data = "synthetic:4", RunDirectory = _dir.File(run), Preset = ModelPreset.Tiny, Tokenizer = ReferenceFixtures.File("tokenizer.json"),
        Overrides = [$"max_steps={steps}", "global_batch_sequences=2", "micro_batch_sequences=2", "activation_checkpointing=false", "checkpoint_every=100"],
    };

    private static Tensor Logits(ModelSource source)
    {
        using var loaded = VlmLoader.Load(source);
        using var noGrad = no_grad();
        using var ids = arange(0, 12, dtype: ScalarType.Int64).unsqueeze(0);
        return loaded.Model.Llm.Logits(inputIds: ids).detach().clone();
    }

    [Fact]
    public void FinalFolderAndLastCheckpointAreTheSameModel()
    {
        var result = TrainingJob.Run(Job("run"));
        Assert.True(result.Finished);
        string run = _dir.File("run");
        var final = ModelSourceResolver.Resolve(new ModelRequest { Model = run });
        Assert.Contains("final/", final.Description);
        using var fromFinal = Logits(final);

        // The same run without final/ is a model through its last checkpoint, with the run manifest's configs.
        Directory.Delete(Path.Combine(run, RunLayout.Final), recursive: true);
        var checkpoint = ModelSourceResolver.Resolve(new ModelRequest { Model = run });
        Assert.Contains("checkpoint at step 2", checkpoint.Description);
        using var fromCheckpoint = Logits(checkpoint);
        Assert.True(fromFinal.contiguous().bytes.SequenceEqual(fromCheckpoint.contiguous().bytes));

        // Manifests: the run names its data and model; the exported model names its run.
        var manifest = StageManifest.Read(run);
        Assert.Equal("synthetic:4", manifest.Inputs[0].Path);
        Assert.Equal("plain", manifest.PromptFormat);
        Assert.Equal(16, manifest.Visual!.TokensPerImage);
    }

    [Fact]
    public void AMismatchIsRefusedBeforeAnythingIsWritten()
    {
        var job = Job("refused") with { Overrides = ["visual_tokens=144"] };
        var e = Assert.Throws<StageContractException>(() => TrainingJob.Run(job));
        Assert.Contains("144 visual tokens per image", e.Message);
        Assert.False(Directory.Exists(job.RunDirectory));
        var noModel = Job("no-model") with { Preset = null };
        Assert.Contains("--preset tiny", Assert.Throws<StageContractException>(() => TrainingJob.Run(noModel)).Message);
        Assert.Contains("unknown config key", Assert.Throws<StageContractException>(() => TrainingJob.Run(Job("bad-key") with { Overrides = ["nonsense=1"] })).Message);
    }

    [Fact]
    public void APresetTakesAPublishedStyleVisionFolderAndKeepsItFrozen()
    {
        // A first run's exported tower is an HF SigLIP folder: a second preset run takes it with --vision.
        TrainingJob.Run(Job("first"));
        string tower = Path.Combine(_dir.File("first"), RunLayout.Final, RunLayout.ModelVision);
        var second = Job("second") with { Model = new ModelRequest { Vision = tower } };
        TrainingJob.Run(second);
        string exported = Path.Combine(_dir.File("second"), RunLayout.Final, RunLayout.ModelVision, RunLayout.HfWeights);
        Assert.Equal(File.ReadAllBytes(Path.Combine(tower, RunLayout.HfWeights)), File.ReadAllBytes(exported));
        Assert.Contains(tower, StageManifest.Read(_dir.File("second")).Inputs[1].Path);
    }

    [Fact]
    public void ResumeContinuesTheSameRunOrIsRefused()
    {
        var job = Job("resumable", steps: 3) with { StopAt = 1 };
        Assert.True(TrainingJob.Run(job).Interrupted);
        Assert.Contains("already has checkpoints", Assert.Throws<StageContractException>(() => TrainingJob.Run(job with { StopAt = null })).Message);
        var otherData = job with { StopAt = null, Resume = true, Data = "synthetic:5" };
        Assert.Contains("was trained on synthetic:4", Assert.Throws<StageContractException>(() => TrainingJob.Run(otherData)).Message);
        Assert.Contains("no checkpoint", Assert.Throws<StageContractException>(() => TrainingJob.Run(Job("fresh") with { Resume = true })).Message);
        Assert.True(TrainingJob.Run(job with { StopAt = null, Resume = true }).Finished);
    }

    [Fact]
    public void ResumeFallsBackFromATruncatedNewestCheckpointWithAWarningLine()
    {
        var job = Job("damaged", steps: 3) with { Overrides = [.. Job("damaged").Overrides, "max_steps=3", "checkpoint_every=1"], StopAt = 2 };
        Assert.True(TrainingJob.Run(job).Interrupted);
        var checkpoints = RunLayout.ListCheckpoints(Path.Combine(job.RunDirectory, RunLayout.Checkpoints));
        Assert.Equal(new[] { 1, 2 }, checkpoints.Select(c => c.Step));
        string weights = Path.Combine(checkpoints[^1].Path, RunLayout.LlmWeights);
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..1000]);

        var log = new List<string>();
        var resumed = TrainingJob.Run(job with { StopAt = null, Resume = true, Log = log.Add });
        Assert.True(resumed.Finished);
        Assert.Equal(1, resumed.StartStep);
        var warning = Assert.Single(log, l => l.StartsWith("warning:", StringComparison.Ordinal));
        Assert.Contains(checkpoints[^1].Path, warning);
        Assert.Contains(RunLayout.LlmWeights, warning);
    }
}
