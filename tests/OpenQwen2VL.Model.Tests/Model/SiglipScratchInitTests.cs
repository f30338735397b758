using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

[Collection(TorchGlobalState.Name)]
public class SiglipScratchInitTests
{
    private static SiglipVisionConfig Config => VlmConfig.Tiny(100).Vision;

    [Fact]
    public void InitialisedTowerHandsOnEachPatchEmbeddingUnchanged()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var tower = new SiglipVisionTransformer(Config, backbone: true);
        SiglipScratchInit.ZeroResidualBranchOutputs(tower);
        var embeddings = (nn.Module<Tensor, Tensor>)tower.named_children().Single(c => c.name == "embeddings").module;
        var pixels = randn(2, 3, Config.ImageSize, Config.ImageSize);
        using var noGrad = no_grad();
        var expected = embeddings.forward(pixels);
        var actual = tower.forward(pixels);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(0f, (actual - expected).abs().max().item<float>());
        // Without the init the blocks do change the features (the test could fail).
        using var plain = new SiglipVisionTransformer(Config, backbone: true);
        var plainEmbeddings = (nn.Module<Tensor, Tensor>)plain.named_children().Single(c => c.name == "embeddings").module;
        Assert.True((plain.forward(pixels) - plainEmbeddings.forward(pixels)).abs().max().item<float>() > 1e-3f);
    }
}
