using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>Growing the vocabulary keeps every existing row and every logit over the old vocabulary.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class TokenEmbeddingResizeTests
{
    /// <summary>Same shape and bit-equal values.</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GrowingKeepsOldRowsAndLogitsAndAddsMeanRows(bool tied)
    {
        const int vocab = 50, grown = 53;
        manual_seed(3);
        using var lm = new Qwen2ForCausalLM(VlmConfig.Tiny(vocab, tied).Llm);
        lm.InitializeWeights();
        lm.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = randint(0, vocab, [2, 7], dtype: ScalarType.Int64);
        var before = lm.forward(ids);
        var oldEmbed = lm.Decoder.EmbedWeight.clone();

        Assert.True(TokenEmbeddingResize.GrowTo(lm, grown));
        Assert.False(TokenEmbeddingResize.GrowTo(lm, grown));
        Assert.Equal(grown, TokenEmbeddingResize.Rows(lm));

        var embed = lm.Decoder.EmbedWeight;
        Assert.True(Same(embed.narrow(0, 0, vocab), oldEmbed));
        var mean = oldEmbed.mean([0], keepdim: true);
        Assert.True(embed.narrow(0, vocab, grown - vocab).allclose(mean.expand(grown - vocab, -1)));
        var names = lm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal([grown, embed.shape[1]], names["model.embed_tokens.weight"].shape);
        Assert.Equal(!tied, names.ContainsKey("lm_head.weight"));
        if (!tied) Assert.Equal([grown, embed.shape[1]], names["lm_head.weight"].shape);

        var after = lm.forward(ids);
        Assert.Equal(grown, after.shape[2]);
        Assert.True(Same(after.narrow(2, 0, vocab), before), "logits over the old vocabulary changed");
        // New ids embed and run.
        Assert.Equal(new long[] { 1, 1, grown }, lm.forward(tensor(new long[] { grown - 1 }).unsqueeze(0)).shape);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GrowingADisposedModelLeavesNoLiveTensors(bool tied)
    {
        var config = VlmConfig.Tiny(50, tied).Llm;
        void Round()
        {
            using var lm = new Qwen2ForCausalLM(config);
            TokenEmbeddingResize.GrowTo(lm, 53);
            Assert.Equal(53, TokenEmbeddingResize.Rows(lm));
        }
        Round(); // warm-up (lazy initialisation)
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++) Round();
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
