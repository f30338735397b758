using OpenQwen2VL.Model.Projector;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Image splicing, batching and pooling against naive constructions, on a tiny random preset.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class VlmBehaviourTests : IDisposable
{
    private const int Vocab = 97;
    private readonly VisionLanguageModel vlm = VisionLanguageModel.CreateRandom(VlmConfig.Tiny(Vocab), seed: 7);

    public void Dispose() => vlm.Dispose();

    private Tensor RandomImages(int n) => randn(n, vlm.Config.Vision.NumChannels, vlm.Config.Vision.ImageSize, vlm.Config.Vision.ImageSize);

    /// <summary>Naive reference: concatenate token embeddings and each image's projected tokens one piece at a time.</summary>
    private Tensor NaiveEmbeds(long[] ids, Tensor projected, ref int image)
    {
        var pieces = new List<Tensor>();
        foreach (var t in ids)
        {
            if (t == VlmBatch.ImageMarker) pieces.Add(projected[image++]);
            else pieces.Add(vlm.Llm.Embed(tensor(new[] { t })));
        }
        return cat(pieces, 0).unsqueeze(0);
    }

    [Fact]
    public void PaddedBatchWithSeveralImagesPerRowEqualsRowsSplicedOneByOne()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long M = VlmBatch.ImageMarker;
        long[] row0 = [5, M, 8, 9, M, 10, 11, 12];       // two images, packed samples
        long[] row1 = [6, M, 13, 14, 0, 0, 0, 0];        // one image, right-padded
        var ids = tensor(row0.Concat(row1).ToArray()).view(2, 8);
        var labels = ids.clone().masked_fill(ids.eq(M), VlmBatch.IgnoreIndex);
        labels[1, TensorIndex.Slice(4)] = tensor(VlmBatch.IgnoreIndex);
        var pixels = RandomImages(3);
        using var batch = new VlmBatch { InputIds = ids, Labels = labels, PixelValues = pixels };

        var output = vlm.forward(batch);
        var inputs = vlm.Embed(batch);
        var projected = vlm.ProjectImages(pixels);
        long perImage = (long)vlm.Config.PoolSide * vlm.Config.PoolSide;
        Assert.Equal(perImage, projected.shape[1]);
        Assert.Equal([8 + 2 * (perImage - 1), 8 + (perImage - 1)], inputs.Lengths);
        Assert.Equal(3 * perImage, inputs.ImageMask.sum().item<long>());
        Assert.True(inputs.Labels[inputs.ImageMask].eq(VlmBatch.IgnoreIndex).all().item<bool>());

        int image = 0;
        foreach (var (row, b) in new[] { (row0, 0), (row1, 1) })
        {
            var naive = vlm.Llm.Logits(inputsEmbeds: NaiveEmbeds(row, projected, ref image));
            long n = inputs.Lengths[b];
            TensorAssert.Close(naive[0], output.Logits[b].narrow(0, 0, n), 1e-5, $"row {b} logits");
        }
    }

    [Fact]
    public void MarkerAndImageCountsMustAgree()
    {
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, VlmBatch.ImageMarker, 2 }).unsqueeze(0);
        using var batch = new VlmBatch { InputIds = ids, Labels = ids.clone(), PixelValues = RandomImages(2) };
        Assert.Throws<ArgumentException>(() => vlm.forward(batch));
    }

    [Fact]
    public void LossGradientReachesProjectorAndLlmButNotVisionTower()
    {
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 3, VlmBatch.ImageMarker, 4, 5, 6 }).unsqueeze(0);
        using var batch = new VlmBatch { InputIds = ids, Labels = ids.clone().masked_fill(ids.lt(0), -100), PixelValues = RandomImages(1) };
        vlm.zero_grad();
        vlm.forward(batch).Loss.backward();
        Assert.All(vlm.Projector.parameters(), p => Assert.NotNull(p.grad));
        Assert.NotNull(vlm.Llm.parameters().First().grad);
        Assert.All(vlm.VisionBackbone.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void PoolingEqualsBlockMeansAndIdentityAtGridSide()
    {
        using var scope = NewDisposeScope();
        int grid = vlm.Config.Vision.GridSide, side = vlm.Config.PoolSide, block = grid / side;
        Assert.Equal(grid, side * block); // the tiny preset pools by an integer factor, so a block mean is the naive answer
        var features = randn(2, grid * grid, 5);
        var pooled = MlpProjector.Pool(features, side);
        var naive = zeros(2, side * side, 5);
        for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++)
            {
                var sum = zeros(2, 5);
                for (int dr = 0; dr < block; dr++)
                    for (int dc = 0; dc < block; dc++)
                        sum += features.select(1, (r * block + dr) * grid + c * block + dc);
                naive[TensorIndex.Colon, r * side + c] = sum / (block * block);
            }
        TensorAssert.Close(naive, pooled, 1e-6, "pooled grid");
        TensorAssert.Close(features, MlpProjector.Pool(features, grid), 0, "identity pooling");
    }

    [Fact]
    public void GenerationWithAndWithoutCacheAgreesAndHonoursStopTokens()
    {
        using var pixels = RandomImages(1);
        long[] prompt = [1, VlmBatch.ImageMarker, 2];
        var free = vlm.Generate(prompt, pixels, 6, useCache: false);
        Assert.Equal(free, vlm.Generate(prompt, pixels, 6, useCache: true));
        var stopped = vlm.Generate(prompt, pixels, 6, [free[1]]);
        Assert.Equal(free.Take(Array.IndexOf(free, free[1]) + 1), stopped);
    }

    [Fact]
    public void BFloat16ModelRunsAndStaysCloseToFloat32()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 3, VlmBatch.ImageMarker, 4, 5, 6 }).unsqueeze(0);
        var pixels = RandomImages(1);
        using var batch = new VlmBatch { InputIds = ids, Labels = ids.clone().masked_fill(ids.lt(0), -100), PixelValues = pixels };
        var loss32 = vlm.forward(batch).Loss.item<float>();
        // Same weights as the fp32 model, copied (not re-drawn: the global RNG is shared with tests running in parallel).
        using var half = VisionLanguageModel.CreateRandom(vlm.Config, seed: 7);
        half.load_state_dict(vlm.state_dict());
        half.to(ScalarType.BFloat16);
        var output = half.forward(batch);
        Assert.Equal(ScalarType.BFloat16, output.Logits.dtype);
        Assert.Equal(ScalarType.Float32, output.Loss.dtype);
        Assert.InRange(output.Loss.item<float>(), loss32 - 0.05, loss32 + 0.05);
    }
}
