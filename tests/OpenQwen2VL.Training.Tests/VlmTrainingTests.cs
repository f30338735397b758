using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Memory;
using OpenQwen2VL.Training.Data;
using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;
using static OpenQwen2VL.Tests.Training.TrainingTestKit;

namespace OpenQwen2VL.Tests.Training;

/// <summary>The trainer on the real (tiny) VisionLanguageModel of the model branch.</summary>
[Collection(TorchGlobalState.Name)]
public class VlmTrainingTests
{
    const int VlmVocab = 128;

    /// <summary>The tiny preset through the one loader, sized from the fixture tokenizer, pooled to 4x4.</summary>
    static VlmTrainableModel Tiny(long seed) =>
        new(VlmLoader.Load(ModelPresets.Source(ModelPreset.Tiny, ReferenceFixtures.File("tokenizer.json")), new VlmLoadSettings { Seed = seed, VisualTokens = 16 }).Model);

    static BatchStreamSource VlmData(int micro, VlmTrainableModel m) =>
        new(new SyntheticCaptionBatches(8, micro, imageSize: m.Vlm.Config.Vision.ImageSize, vocab: VlmVocab, seed: 3));

    static Dictionary<string, float[]> Grads(bool checkpointed)
    {
        using var model = Tiny(seed: 4);
        model.SetTrainable(true, true, false);
        model.LayerCheckpoint = checkpointed ? ActivationCheckpoint.Apply : null;
        using var data = VlmData(2, model);
        using var batch = data.Next();
        using var scope = NewDisposeScope();
        var (loss, _) = model.Forward(batch);
        loss.backward();
        return model.Parameters().Where(p => p.Parameter.requires_grad)
            .ToDictionary(p => p.Key, p => p.Parameter.grad!.data<float>().ToArray());
    }

    [Fact]
    public void UnfrozenVisionTowerGetsGradientsAndAFrozenOneNone()
    {
        using var model = Tiny(seed: 4);
        using var data = VlmData(2, model);
        using var batch = data.Next();
        foreach (bool trainVision in new[] { true, false })
        {
            model.SetTrainable(true, true, trainVision);
            foreach (var p in model.Parameters()) p.Parameter.grad?.zero_();
            using var scope = NewDisposeScope();
            var (loss, _) = model.Forward(batch);
            loss.backward();
            var vision = model.Parameters().Where(p => p.Component == ModelComponent.Vision).ToList();
            Assert.NotEmpty(vision);
            double norm = vision.Sum(p => p.Parameter.grad is { } g ? g.abs().sum().item<float>() : 0.0);
            if (trainVision) Assert.True(norm > 0, "an unfrozen vision tower must receive gradients");
            else Assert.Equal(0.0, norm);
        }
    }

    [Fact]
    public void LossFromPredictingPositionsOnlyEqualsTheLossOverFullLogits()
    {
        using var model = Tiny(seed: 4);
        using var data = VlmData(3, model);
        using var full = data.Next();
        using var scope = NewDisposeScope();
        // SFT-like labels: most positions ignored (prompts), a few runs kept (answers), one row with none at all.
        var labels = full.Labels.clone();
        var rng = new Random(5);
        long rows = labels.shape[0], len = labels.shape[1];
        for (long b = 0; b < rows; b++)
            for (long t = 0; t < len; t++)
                if (b == 1 || rng.NextDouble() < 0.7) labels[b, t] = tensor(VlmBatch.IgnoreIndex);
        using var batch = new VlmBatch { InputIds = full.InputIds.alias(), Labels = labels, PixelValues = full.PixelValues!.alias() };

        var (lossSum, targets) = model.Forward(batch);
        // Reference: the head over every position, then the shifted cross-entropy that ignores -100.
        var output = model.Vlm.forward(batch);
        var inputs = model.Vlm.Embed(batch);
        long l = output.Logits.shape[1];
        var shiftedLabels = inputs.Labels.narrow(1, 1, l - 1).reshape(-1);
        var reference = nn.functional.cross_entropy(output.Logits.narrow(1, 0, l - 1).reshape(-1, output.Logits.shape[2]), shiftedLabels,
            ignore_index: VlmBatch.IgnoreIndex, reduction: nn.Reduction.Sum);
        long expectedTargets = shiftedLabels.ne(tensor(VlmBatch.IgnoreIndex)).sum().item<long>();
        Assert.True(expectedTargets > 0);
        Assert.Equal(expectedTargets, targets.item<long>());
        Assert.Equal(reference.item<float>(), lossSum.item<float>(), 1e-3 * Math.Max(1, Math.Abs(reference.item<float>())));
    }

    [Fact]
    public void Qwen2LayerCheckpointingGivesThePlainGradients()
    {
        var plain = Grads(false);
        var ckpt = Grads(true);
        Assert.Equal(plain.Keys.OrderBy(k => k), ckpt.Keys.OrderBy(k => k));
        Assert.Contains(plain.Keys, k => k.StartsWith("llm.model.layers.0."));
        foreach (var k in plain.Keys)
        {
            double d = plain[k].Zip(ckpt[k], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(d <= 1e-6, $"{k}: max gradient difference {d}");
        }
    }

    [Fact]
    public void StopResumeIsBitExactFrozenVisionUntouchedAndExportReloadsWithSameLogits()
    {
        var cfg = Config(steps: 4, global: 1, micro: 1, lr: 2e-3) with { ActivationCheckpointing = true, VisualTokens = 16 };
        TrainingResult Run(string dir, int? stopAt, bool resume, long seed, out Dictionary<string, Tensor> before, out Dictionary<string, Tensor> after)
        {
            using var m = Tiny(seed);
            before = Snapshot(m);
            var r = new Trainer(m, VlmData(1, m), new TrainerOptions { Config = cfg, RunDirectory = dir, StopAt = stopAt, Resume = resume, SaveFrozenComponents = true }).Run();
            after = Snapshot(m);
            return r;
        }
        using var straightDir = new TempDir();
        var straight = straightDir.Path;
        Run(straight, null, false, 4, out var b0, out var a0);
        foreach (var k in b0.Keys)
        {
            if (k.StartsWith("vision.")) Assert.True(BitEqual(b0[k], a0[k]), $"{k} changed");
            else Assert.False(BitEqual(b0[k], a0[k]), $"{k} did not change");
        }
        using var splitDir = new TempDir();
        var split = splitDir.Path;
        Assert.True(Run(split, 2, false, 4, out _, out _).Interrupted);
        Assert.True(Run(split, null, true, 4, out _, out _).Finished);
        foreach (var f in new[] { "llm/model.safetensors", "projector.safetensors", "vision/model.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "final", f)), File.ReadAllBytes(Path.Combine(split, "final", f)));

        // final/llm reloads into a fresh Qwen2ForCausalLM and gives the trained model's logits.
        using var trained = Tiny(4);
        using var reloaded = new Qwen2ForCausalLM(trained.Vlm.Config.Llm);
        CheckpointLoader.LoadInto(reloaded, Path.Combine(straight, "final", "llm"), ScalarType.Float32, CPU);
        CheckpointLoader.LoadInto(trained.Vlm.Llm, Path.Combine(straight, "final", "llm", "model.safetensors"), ScalarType.Float32, CPU);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = arange(0, 20, dtype: ScalarType.Int64).remainder(VlmVocab).unsqueeze(0);
        Assert.True(BitEqual(trained.Vlm.Llm.Logits(inputIds: ids), reloaded.Logits(inputIds: ids)));
    }

    static Dictionary<string, Tensor> Snapshot(ITrainableModel m) =>
        m.Parameters().ToDictionary(p => p.Key, p => p.Parameter.detach().cpu().clone().DetachFromDisposeScope());
}
