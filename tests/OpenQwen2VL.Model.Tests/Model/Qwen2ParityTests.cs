using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Qwen2;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Qwen2 LM against HF transformers on the reference fixtures (qwen2/, qwen2_case.safetensors).</summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class Qwen2ParityTests : IDisposable
{
    private readonly Qwen2ForCausalLM lm = ModelFixtures.LoadQwen2();
    private readonly Dictionary<string, Tensor> ref_ = ModelFixtures.ReadCase("qwen2_case.safetensors");

    public void Dispose()
    {
        lm.Dispose();
        ModelFixtures.DisposeAll(ref_);
    }

    [Fact]
    public void ParameterNamesEqualSafetensorsKeys()
    {
        using var file = SafetensorsFile.Open(ReferenceFixtures.File("qwen2", "model.safetensors"));
        var names = lm.named_parameters().Select(p => p.name).Order(StringComparer.Ordinal).ToArray();
        var keys = file.Entries.Select(e => e.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(keys, names);
    }

    [Fact]
    public void LogitsMatchReference()
    {
        using var noGrad = no_grad();
        using var logits = lm.forward(ref_["input_ids"]);
        TensorAssert.Close(ref_["logits"], logits, what: "logits");
    }

    [Fact]
    public void LossMatchesReference()
    {
        using var noGrad = no_grad();
        using var logits = lm.forward(ref_["input_ids"]);
        using var loss = CausalLmLoss.Compute(logits, ref_["labels"]);
        TensorAssert.Close(ref_["loss"].item<float>(), loss.item<float>(), 1e-4, "loss");
        var (sum, count) = CausalLmLoss.Sum(logits, ref_["labels"]);
        TensorAssert.Close(ref_["loss"].item<float>(), sum.item<float>() / count.item<long>(), 1e-4, "summed loss / targets");
        sum.Dispose(); count.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GreedyIdsMatchReference(bool useCache)
    {
        var expected = ref_["gen_greedy"];
        var ids = GreedyDecoding.FromIds(lm, ref_["gen_prompt"], (int)expected.shape[1], useCache: useCache);
        Assert.Equal(expected.data<long>().ToArray(), ids.Single());
    }
}
