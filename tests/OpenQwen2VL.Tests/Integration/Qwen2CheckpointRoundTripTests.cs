using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Model;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>The fixture Qwen2 through our HF-folder export and reload, and loaded in bfloat16, against qwen2_case.</summary>
[Trait("Category", "Parity")]
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

    /// <summary>
    /// bfloat16 keeps 8 significant bits: every stored weight and every activation is rounded with relative error
    /// up to u = 2⁻⁹ (round to nearest). A logit is a sum over the hidden size of products whose error grows with
    /// the chain of rounded operations (embedding, per layer: two norms, q/k/v/o, gate/up/down, residual adds; final
    /// norm and head), roughly linearly in depth. We allow 4·u per rounded matrix product on the path
    /// (7 per layer + 1 head), relative to the row's largest reference logit: for a 2-layer model 60·2⁻⁹ ≈ 0.12
    /// of the logit scale. A wrong weight (a transposed or misnamed tensor) gives errors of the order of the
    /// logit scale itself, so the test still separates a correct bf16 load from a broken one.
    /// </summary>
    [Fact]
    public void Bf16LoadIsTheRoundedCheckpointAndGivesLogitsWithinBf16Tolerance()
    {
        var (lm, report) = VlmLoader.LoadLanguageModel(ReferenceFixtures.File("qwen2"), ScalarType.BFloat16, CPU);
        using var _ = lm;
        Assert.True(report.IsComplete, report.ToString());

        // The load is exactly the float32 checkpoint rounded to bfloat16.
        using (var ck = SafetensorsCheckpoint.Open(ReferenceFixtures.File("qwen2")))
        {
            var source = new SafetensorsCheckpointTensors(ck);
            foreach (var (name, p) in lm.named_parameters())
            {
                Assert.Equal(ScalarType.BFloat16, p.dtype);
                using var stored = source.Read(name);
                using var rounded = stored.to(ScalarType.BFloat16);
                Assert.True(Same(rounded, p), $"{name} is not the rounded checkpoint tensor");
            }
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = lm.forward(ref_["input_ids"]).to(ScalarType.Float32);
        var reference = ref_["logits"];
        double u = Math.Pow(2, -9);
        double tol = 4 * u * (7 * lm.Config.NumHiddenLayers + 1);
        var rowScale = reference.abs().amax([-1], keepdim: true).clamp_min(1.0);
        var worst = ((logits - reference).abs() / rowScale).max().item<float>();
        Assert.True(worst <= tol, $"bf16 logits: max error {worst:G4} of the row's logit scale exceeds {tol:G4}");
        var loss = CausalLmLoss.Compute(logits, ref_["labels"]).item<float>();
        Assert.True(Math.Abs(loss - ref_["loss"].item<float>()) <= tol, $"bf16 loss {loss} vs reference {ref_["loss"].item<float>()}");
    }
}
