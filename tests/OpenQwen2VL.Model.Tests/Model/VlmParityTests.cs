using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>The VLM (SigLIP penultimate → pooled MLP → Qwen2) against the PyTorch reference (vlm_case.safetensors).</summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class VlmParityTests : IDisposable
{
    private readonly Dictionary<string, Tensor> ref_ = ModelFixtures.ReadCase("vlm_case.safetensors");
    private readonly Tensor pixels = ModelFixtures.PixelValues();

    public void Dispose()
    {
        pixels.Dispose();
        ModelFixtures.DisposeAll(ref_);
    }

    public static TheoryData<int> PoolSizes() => new(ModelFixtures.PoolSizes());

    [Theory]
    [MemberData(nameof(PoolSizes))]
    public void ProjectedTokensTextLogitsAndLossMatchReference(int pool)
    {
        using var vlm = ModelFixtures.LoadVlm(pool);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = ref_["input_ids"].unsqueeze(0);
        int images = (int)ref_[$"pool{pool}_projected"].shape[0];
        using var batch = new VlmBatch { InputIds = ids.clone(), Labels = ref_["labels"].unsqueeze(0).clone(), PixelValues = pixels.narrow(0, 0, images).clone() };

        TensorAssert.Close(ref_[$"pool{pool}_projected"], vlm.ProjectImages(batch.PixelValues!), what: $"pool{pool}_projected");
        using var output = vlm.forward(batch);
        var textLogits = output.Logits[0][~output.ImageMask[0]];
        TensorAssert.Close(ref_[$"pool{pool}_text_logits"], textLogits, what: $"pool{pool}_text_logits");
        TensorAssert.Close(ref_[$"pool{pool}_loss"].item<float>(), output.Loss.item<float>(), 1e-4, $"pool{pool}_loss");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GreedyCaptionMatchesReference(bool useCache)
    {
        using var vlm = ModelFixtures.LoadVlm(ModelFixtures.PoolSizes()[0]);
        var prompt = ref_["gen_prompt"].data<long>().ToArray();
        var expected = ref_["gen_greedy"].data<long>().ToArray();
        int images = prompt.Count(t => t == VlmBatch.ImageMarker);
        using var imagePixels = pixels.narrow(0, 0, images);
        Assert.Equal(expected, vlm.Generate(prompt, imagePixels, expected.Length, useCache: useCache));
    }

    [Fact]
    public void ProjectorAndVlmParameterNamesFollowCheckpointKeys()
    {
        using var vlm = ModelFixtures.LoadVlm(ModelFixtures.PoolSizes()[0]);
        using var projector = SafetensorsFile.Open(ReferenceFixtures.File("projector.safetensors"));
        Assert.Equal(projector.Entries.Select(e => e.Name).Order(StringComparer.Ordinal),
            vlm.Projector.named_parameters().Select(p => p.name).Order(StringComparer.Ordinal));
        var names = vlm.named_parameters().Select(p => p.name).ToList();
        Assert.All(names, n => Assert.True(n.StartsWith("vision_backbone.vision_model.") || n.StartsWith("projector.mlp_projector.") || n.StartsWith("llm_backbone.llm."), n));
        Assert.All(vlm.VisionBackbone.parameters(), p => Assert.False(p.requires_grad));
    }
}
