using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>
/// Forward passes free every intermediate (the live tensor count stays flat over 200 calls), and a disposed
/// network leaves no tensor behind.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class ModelLeakTests
{
    private static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    private static void AssertFlat(Action forward)
    {
        forward(); // warm-up (lazy initialisation)
        long before = Live;
        for (int i = 0; i < 200; i++) forward();
        Assert.Equal(before, Live);
    }

    // The smallest configs that still take every code path (GQA, several layers): 200 passes must stay cheap.
    private static readonly Qwen2Config SmallLm = new()
    {
        VocabSize = 32, HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, NumKeyValueHeads = 1, TieWordEmbeddings = true,
    };

    [Fact]
    public void Qwen2ForwardAndLossDoNotLeak()
    {
        using var lm = new Qwen2ForCausalLM(SmallLm);
        using var ids = randint(0, lm.Config.VocabSize, [2, 8], dtype: ScalarType.Int64);
        AssertFlat(() =>
        {
            using var logits = lm.forward(ids);
            using var loss = CausalLmLoss.Compute(logits, ids);
        });
    }

    [Fact]
    public void Qwen2CachedDecodingDoesNotLeak()
    {
        using var lm = new Qwen2ForCausalLM(SmallLm);
        using var ids = randint(0, lm.Config.VocabSize, [1, 4], dtype: ScalarType.Int64);
        using var one = ids.narrow(1, 0, 1);
        using var noGrad = no_grad();
        AssertFlat(() =>
        {
            using var cache = lm.NewCache(5);
            using var a = lm.Logits(inputIds: ids, cache: cache);
            using var b = lm.Logits(inputIds: one, cache: cache);
        });
    }

    [Fact]
    public void SiglipForwardDoesNotLeak()
    {
        var vision = new SiglipVisionConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 14, PatchSize = 7 };
        var text = new SiglipTextConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2, VocabSize = 50, MaxPositionEmbeddings = 8, ProjectionSize = 32 };
        using var model = new SiglipModel(vision, text);
        using var pixels = randn(1, 3, 14, 14);
        using var ids = randint(0, 50, [2, 8], dtype: ScalarType.Int64);
        AssertFlat(() =>
        {
            using var img = model.ImageEmbeds(pixels);
            using var txt = model.TextEmbeds(ids);
            using var logits = model.LogitsPerImage(img, txt);
            using var features = model.VisionModel.forward(pixels);
        });
    }

    [Fact]
    public void VlmForwardDoesNotLeak()
    {
        using var vlm = VisionLanguageModel.CreateRandom(new VlmConfig(
            new SiglipVisionConfig { HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 28, PatchSize = 7 },
            SmallLm, PoolSide: 2));
        var v = vlm.Config.Vision;
        using var ids = tensor(new long[] { 1, VlmBatch.ImageMarker, 2, 3 }).unsqueeze(0);
        using var labels = ids.clone();
        using var pixels = randn(1, v.NumChannels, v.ImageSize, v.ImageSize);
        using var noGrad = no_grad();
        AssertFlat(() =>
        {
            using var batch = new VlmBatch { InputIds = ids.alias(), Labels = labels.alias(), PixelValues = pixels.alias() };
            using var output = vlm.forward(batch);
        });
    }

    private static readonly VlmConfig TinyVlm = VlmConfig.Tiny(vocabSize: 40);

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void ConstructingAndDisposingAVlmLeavesNoLiveTensors(ScalarType dtype)
    {
        new VisionLanguageModel(TinyVlm, dtype).Dispose(); // warm-up (lazy initialisation)
        long before = Live;
        for (int i = 0; i < 10; i++) new VisionLanguageModel(TinyVlm, dtype).Dispose();
        Assert.Equal(before, Live);
    }

    [Fact]
    public void FullVisionTowerConstructionLeavesNoLiveTensors()
    {
        // The pooling head and post-layernorm, which the VLM's backbone mode does not build.
        var vision = TinyVlm.Vision with { UseHead = true };
        new SiglipVisionModel(vision, backbone: false).Dispose();
        long before = Live;
        for (int i = 0; i < 10; i++) new SiglipVisionModel(vision, backbone: false).Dispose();
        Assert.Equal(before, Live);
    }
}
