using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

public class SiglipScratchInitTests
{
    private static SiglipVisionConfig Config => VlmConfig.Tiny(100).Vision;

    [Fact]
    public void InitialisedTowerHandsOnEachPatchEmbeddingUnchanged()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var tower = new SiglipVisionTransformer(Config, backbone: true);
        SiglipScratchInit.Apply(tower);
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

    [Fact]
    public void PositionCodeIsAFunctionOfRowAndColumn()
    {
        using var scope = NewDisposeScope();
        using var tower = new SiglipVisionTransformer(Config, backbone: true);
        SiglipScratchInit.SinCosPositions(tower);
        var table = tower.named_parameters().Single(p => p.name == "embeddings.position_embedding.weight").parameter.detach();
        int side = Config.GridSide, dim = Config.HiddenSize;
        var rows = table.view(side, side, dim);
        // The row half depends on the row only, the column half on the column only.
        Assert.Equal(0f, (rows[.., .., ..(dim / 2)] - rows[.., 0..1, ..(dim / 2)]).abs().max().item<float>());
        Assert.Equal(0f, (rows[.., .., (dim / 2)..] - rows[0..1, .., (dim / 2)..]).abs().max().item<float>());
        // Every patch has its own code, and the spread is HF's init spread (std 1/sqrt(D)).
        var distances = cdist(table, table) + eye(side * side) * 10;
        Assert.True(distances.min().item<float>() > 1e-3f);
        Assert.InRange(table.pow(2).mean().sqrt().item<float>(), 0.9f / MathF.Sqrt(dim), 1.1f / MathF.Sqrt(dim));
    }
}
