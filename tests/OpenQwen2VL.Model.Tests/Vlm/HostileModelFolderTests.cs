using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// Model folders as downloaded (symlinked HF snapshots) load; crafted ones (written here) are refused in one line before
/// the network is built.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class HostileModelFolderTests
{
    [Fact]
    public void ASymlinkedHfSnapshotLoads()
    {
        // snapshots/<rev>/{config.json, model.safetensors} -> ../../blobs/<hash>, as huggingface_hub lays them out.
        using var tmp = new TempDir();
        var blobs = Directory.CreateDirectory(tmp.File("blobs")).FullName;
        var snapshot = Directory.CreateDirectory(tmp.File(Path.Combine("snapshots", "rev"))).FullName;
        foreach (var (name, blob) in new[] { ("config.json", "c0ffee"), ("model.safetensors", "beef") })
        {
            File.Copy(ReferenceFixtures.File("qwen2", name), Path.Combine(blobs, blob));
            File.CreateSymbolicLink(Path.Combine(snapshot, name), Path.Combine("..", "..", "blobs", blob));
        }
        var (lm, report) = VlmLoader.LoadLanguageModel(snapshot, ScalarType.Float32, CPU);
        using var _ = lm;
        Assert.True(report.IsComplete, report.ToString());
    }

    [Fact]
    public void AConfigThatDisagreesWithItsWeightsIsRefusedBeforeBuilding()
    {
        using var tmp = new TempDir();
        File.Copy(ReferenceFixtures.File("qwen2", "model.safetensors"), tmp.File("model.safetensors"));
        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("qwen2", "config.json")))!;
        config["num_hidden_layers"] = 900;
        File.WriteAllText(tmp.File("config.json"), config.ToJsonString());
        var e = Assert.Throws<CheckpointMismatchException>(() => VlmLoader.LoadLanguageModel(tmp.Path, ScalarType.Float32, CPU));
        Assert.Contains("num_hidden_layers = 900, the weights hold 2 layers", e.Message);
    }

    [Fact]
    public void ATensorOfADtypeTheLoaderCannotReadIsOneLineNamingIt()
    {
        // U16 is a valid safetensors dtype that libtorch (and so this loader) has no type for.
        using var tmp = new TempDir();
        var path = tmp.File("model.safetensors");
        OpenQwen2VL.Data.Formats.SafetensorsWriter.Write(path, OpenQwen2VL.Tests.Checkpoints.CheckpointTestModules.TinyLm.Select(t =>
        {
            string dtype = t.Name == "model.norm.weight" ? "U16" : "F32";
            long n = t.Shape.Aggregate(1L, (a, b) => a * b) * OpenQwen2VL.Data.Formats.SafetensorsEntry.ElementSize(dtype);
            return OpenQwen2VL.Data.Formats.SafetensorsTensorSource.FromBytes(t.Name, dtype, t.Shape, new byte[n]);
        }));
        using var module = OpenQwen2VL.Tests.Checkpoints.CheckpointTestModules.Create(OpenQwen2VL.Tests.Checkpoints.CheckpointTestModules.TinyLm);
        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.LoadInto(module, path, ScalarType.Float32, CPU));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("model.norm.weight: stored as U16, a dtype this loader cannot read", e.Message);
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void AModelTooLargeForTheMemoryIsRefusedBeforeBuilding()
    {
        var tiny = VlmConfig.Tiny(1505);
        var source = new ModelSource
        {
            Description = "crafted preset",
            LlmConfig = new Qwen2Config
            {
                VocabSize = Qwen2Config.MaxVocabSize, HiddenSize = Qwen2Config.MaxHiddenSize, IntermediateSize = Qwen2Config.MaxIntermediateSize,
                NumHiddenLayers = 64, NumAttentionHeads = 512, NumKeyValueHeads = 512,
            },
            VisionConfig = tiny.Vision, TokenizerPath = ReferenceFixtures.File("tokenizer.json"),
            Preprocessor = ImagePreprocessor.ResizeNaive(tiny.Vision.ImageSize),
        };
        var e = Assert.Throws<StageContractException>(() => VlmLoader.Load(source));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("crafted preset: its config names", e.Message);
    }
}
