using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Images;
using OpenQwen2VL.Tests.Shards;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Data;
using OpenQwen2VL.Training.Jobs;
using OpenQwen2VL.Training.Memory;
using OpenQwen2VL.Training.Model;
using SkiaSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Training;

/// <summary>SFT packing (sft_packing=true): a pack trains exactly as its conversations one by one, from the data to the run.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class PackedSftTrainingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string TokenizerPath = ReferenceFixtures.File("tokenizer.json");

    /// <summary>LLaVA conversations of different lengths (one with two turns), each with an image; returns the sft: spec.</summary>
    private string WriteSft(int n)
    {
        string img = _dir.File("img");
        Directory.CreateDirectory(img);
        var records = Enumerable.Range(0, n).Select(i =>
        {
            File.WriteAllBytes(Path.Combine(img, $"{i}.jpg"), TestImages.Encode(TestImages.Pattern(20 + i, 18, i), SKEncodedImageFormat.Jpeg));
            var turns = new List<object> { new { from = "human", value = "<image>\nWhat is it?" }, new { from = "gpt", value = string.Join(' ', Enumerable.Repeat("yes", 1 + 3 * i % 7)) } };
            if (i % 3 == 1) turns.AddRange([new { from = "human", value = "And the colour?" }, new { from = "gpt", value = "red and blue" }]);
            return new { id = $"c{i}", image = $"{i}.jpg", conversations = turns };
        }).ToArray();
        string json = _dir.File("sft.json");
        File.WriteAllText(json, JsonSerializer.Serialize(records));
        return $"sft:{json},{img}";
    }

    /// <summary>
    /// The mean loss and the gradients of the first micro-batch of <paramref name="spec"/>, packed or not, and whether its
    /// packed attention ran per sequence (null: not packed).
    /// </summary>
    private static (double Loss, Dictionary<string, float[]> Grads, VlmBatch Batch, bool? PerSequence) LossAndGrads(string spec, bool pack, int micro, bool checkpointed)
    {
        using var loaded = VlmLoader.Load(ModelPresets.Source(ModelPreset.Tiny, TokenizerPath), new VlmLoadSettings { Seed = 4, VisualTokens = 16 });
        var model = new VlmTrainableModel(loaded.Model);
        model.SetTrainable(true, true, false);
        model.LayerCheckpoint = checkpointed ? ActivationCheckpoint.Apply : null;
        using var source = TrainingData.Resolve(spec, Stage.Sft).Open(new TrainingDataOpenOptions
        {
            MicroBatch = micro, Preprocessor = loaded.Preprocessor, Tokenizer = loaded.Tokenizer, VisualTokensPerImage = 16,
            SequenceLength = 512, Seed = 1, PadId = loaded.Tokenizer.TokenToId("<|endoftext|>")!.Value, PackSft = pack,
        });
        var batch = source.Next();
        using var scope = NewDisposeScope();
        bool? perSequence;
        using (var inputs = model.Vlm.Embed(batch))
            perSequence = inputs.Segments is null ? null : PackedCausalAttention.RunsPerSequence(inputs.Segments);
        var (sum, count) = model.Forward(batch);
        var loss = sum / count;
        loss.backward();
        var grads = model.Parameters().Where(p => p.Parameter.requires_grad).ToDictionary(p => p.Key, p => p.Parameter.grad!.data<float>().ToArray());
        return (loss.item<float>(), grads, batch, perSequence);
    }

    [Fact]
    public void APackedBatchGivesTheLossAndGradientsOfItsConversationsUnpacked()
    {
        string spec = WriteSft(5);
        var (unpackedLoss, unpackedGrads, unpacked, _) = LossAndGrads(spec, pack: false, micro: 5, checkpointed: false);
        // Packed and activation-checkpointed (the layer closure rebuilds positions and mask or segments in backward).
        var (packedLoss, packedGrads, packed, packedPerSequence) = LossAndGrads(spec, pack: true, micro: 1, checkpointed: true);
        // These conversations are long enough for attention per sequence (the dense mask is checked against it directly).
        Assert.True(packedPerSequence);
        using (unpacked)
        using (packed)
        {
            Assert.Equal(5, unpacked.InputIds.shape[0]);
            Assert.Null(unpacked.SegmentIds);
            Assert.Equal(1, packed.InputIds.shape[0]);   // all five conversations fit one pack of 512
            Assert.Equal(5, packed.PixelValues!.shape[0]);
            Assert.Equal(4, packed.SegmentIds!.data<long>().Max());
        }
        Assert.True(Math.Abs(packedLoss - unpackedLoss) <= 1e-5 * Math.Abs(unpackedLoss), $"packed loss {packedLoss} vs unpacked {unpackedLoss}");
        Assert.Equal(unpackedGrads.Keys.Order(), packedGrads.Keys.Order());
        foreach (var (key, expected) in unpackedGrads)
        {
            double scale = expected.Max(Math.Abs), diff = expected.Zip(packedGrads[key], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(diff <= 1e-4 * scale + 1e-7, $"{key}: max gradient difference {diff:G3} (largest gradient {scale:G3})");
        }
    }

    /// <summary>A tiny run (the preset: a pre-training run as --model goes through the same loader and stage code).</summary>
    private TrainingJobOptions Job(Stage stage, string data, string run, params string[] overrides) => new()
    {
        Stage = stage, Data = data, RunDirectory = _dir.File(run), Preset = ModelPreset.Tiny, Tokenizer = TokenizerPath,
        Overrides = ["max_steps=2", "global_batch_sequences=2", "micro_batch_sequences=1", "activation_checkpointing=false", "checkpoint_every=100", .. overrides],
    };

    [Fact]
    public void SftPackingTrainsRecordsItAndResumesExactly()
    {
        string spec = WriteSft(6);
        Assert.Contains("only in --stage sft", Assert.Throws<StageContractException>(() => TrainingJob.Run(Job(Stage.Pretrain, "synthetic:4", "pt", "sft_packing=true"))).Message);

        // Packs of up to 200 positions: a few conversations (64 visual tokens each in SFT) per pack.
        string[] packing = ["sft_packing=true", "sequence_length=200"];
        var straight = TrainingJob.Run(Job(Stage.Sft, spec, "sft", packing));
        Assert.True(straight.Finished);
        Assert.True(double.IsFinite(straight.LastLoss));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir.File("sft"), RunLayout.Config)))!;
        Assert.True((bool)config["sft_packing"]!);

        var split = Job(Stage.Sft, spec, "sft-split", packing);
        Assert.True(TrainingJob.Run(split with { StopAt = 1 }).Interrupted);
        var unpacked = split with { Resume = true, Overrides = [.. split.Overrides.Where(o => o != "sft_packing=true")] };
        Assert.Contains("sft_packing true", Assert.Throws<StageContractException>(() => TrainingJob.Run(unpacked)).Message);
        Assert.True(TrainingJob.Run(split with { Resume = true }).Finished);
        foreach (var f in new[] { "llm/model.safetensors", "projector.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir.File("sft"), "final", f)), File.ReadAllBytes(Path.Combine(_dir.File("sft-split"), "final", f)));
    }
}
