using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Model;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>The fixture Qwen2 through our HF-folder export and reload, against qwen2_case.</summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class Qwen2CheckpointRoundTripTests : IDisposable
{
    private readonly Dictionary<string, Tensor> ref_ = ModelFixtures.ReadCase("qwen2_case.safetensors");

    public void Dispose() => ModelFixtures.DisposeAll(ref_);

    /// <summary>Same shape and bit-equal values.</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static string[] StoredNames(string folder)
    {
        using var ck = SafetensorsCheckpoint.Open(folder);
        return ck.Names.Order(StringComparer.Ordinal).ToArray();
    }

    [Fact]
    public void ExportedHfFolderReloadsWithIdenticalLogits()
    {
        var (lm, loadReport) = VlmLoader.LoadLanguageModel(ReferenceFixtures.File("qwen2"), ScalarType.Float32, CPU);
        using var _ = lm;
        Assert.True(loadReport.IsComplete, loadReport.ToString());
        using var tmp = new TempDir();
        lm.Config.Save(tmp.Path);
        var export = SafetensorsExport.SaveHfFolder(lm, tmp.Path);

        // Same tensors under the same names as the HF original; tied weights stored once (no lm_head.weight).
        Assert.Equal(StoredNames(ReferenceFixtures.File("qwen2")), StoredNames(tmp.Path));
        Assert.Equal(lm.Config.TieWordEmbeddings, !StoredNames(tmp.Path).Contains(HfCheckpointConfig.LmHeadKey));
        Assert.Equal(Qwen2Config.Load(ReferenceFixtures.File("qwen2")).ToJson(), Qwen2Config.Load(tmp.Path).ToJson());

        var (reloaded, report) = VlmLoader.LoadLanguageModel(tmp.Path, ScalarType.Float32, CPU);
        using var __ = reloaded;
        Assert.True(report.IsComplete, report.ToString());
        Assert.Equal(export.TotalSize, report.LoadedBytes);
        using var noGrad = no_grad();
        using var before = lm.forward(ref_["input_ids"]);
        using var after = reloaded.forward(ref_["input_ids"]);
        Assert.True(Same(before, after), "reloaded logits differ from the exported model's");
        TensorAssert.Close(ref_["logits"], after, what: "reloaded logits");
    }
}
