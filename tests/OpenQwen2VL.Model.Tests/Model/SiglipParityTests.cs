using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>SigLIP dual encoder against HF transformers on the reference fixtures (siglip/, siglip_case, preprocess_case).</summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class SiglipParityTests : IDisposable
{
    private readonly SiglipModel model = ModelFixtures.LoadSiglip();
    private readonly Dictionary<string, Tensor> ref_ = ModelFixtures.ReadCase("siglip_case.safetensors");
    private readonly Tensor pixels = ModelFixtures.PixelValues();

    public void Dispose()
    {
        model.Dispose();
        pixels.Dispose();
        ModelFixtures.DisposeAll(ref_);
    }

    [Fact]
    public void ParameterNamesEqualSafetensorsKeys()
    {
        using var file = SafetensorsFile.Open(ReferenceFixtures.File("siglip", "model.safetensors"));
        var names = model.named_parameters().Select(p => p.name).Order(StringComparer.Ordinal).ToArray();
        var keys = file.Entries.Select(e => e.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(keys, names);
    }

    [Fact]
    public void VisionTowerOutputsMatchReference()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var o = model.VisionModel.Forward(pixels);
        TensorAssert.Close(ref_["vision_penultimate"], o.Penultimate, what: "vision_penultimate");
        TensorAssert.Close(ref_["vision_last_hidden_state"], o.LastHiddenState, what: "vision_last_hidden_state");
        TensorAssert.Close(ref_["vision_pooler_output"], o.PoolerOutput!, what: "vision_pooler_output");
    }

    [Fact]
    public void EmbeddingsAndLogitsMatchReference()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var img = model.ImageEmbeds(pixels);
        var txt = model.TextEmbeds(ref_["input_ids"]);
        TensorAssert.Close(ref_["image_embeds"], img, what: "image_embeds");
        TensorAssert.Close(ref_["text_embeds"], txt, what: "text_embeds");
        TensorAssert.Close(ref_["logits_per_image"], model.LogitsPerImage(img, txt), what: "logits_per_image");
    }

    [Fact]
    public void BackboneModeBuildsOnlyThePenultimateStackAndMatchesReference()
    {
        var path = ReferenceFixtures.File("siglip", "config.json");
        var config = SiglipVisionConfig.Load(path);
        using var backbone = new SiglipVisionModel(config, backbone: true);
        using var file = SafetensorsFile.Open(ReferenceFixtures.File("siglip", "model.safetensors"));
        var report = VlmLoader.LoadVisionBackbone(backbone, ReferenceFixtures.File("siglip"), ScalarType.Float32, CPU);
        var names = backbone.named_parameters().Select(p => p.name).ToList();
        Assert.DoesNotContain(names, n => n.Contains("post_layernorm") || n.Contains(".head.") || n.Contains($"layers.{config.NumHiddenLayers - 1}."));
        Assert.True(report.IsComplete, report.ToString());
        Assert.Equal(names.Order(), report.Loaded.Order());
        Assert.Equal(file.Entries.Count - names.Count, report.Ignored.Count);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        TensorAssert.Close(ref_["vision_penultimate"], backbone.forward(pixels), what: "backbone features");
    }
}
