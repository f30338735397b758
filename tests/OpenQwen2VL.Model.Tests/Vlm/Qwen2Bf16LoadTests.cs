using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Model;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>The fixture Qwen2 loaded in bfloat16 against the float32 reference (qwen2_case).</summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class Qwen2Bf16LoadTests : IDisposable
{
    private readonly Dictionary<string, Tensor> ref_ = ModelFixtures.ReadCase("qwen2_case.safetensors");

    public void Dispose() => ModelFixtures.DisposeAll(ref_);

    /// <summary>Same shape and bit-equal values.</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

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
        Assert.Equal(ScalarType.Float32, get_default_dtype()); // built in bf16 without touching the process-wide default

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
