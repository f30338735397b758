using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Qwen2;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Issue 16: generation never runs past the model's max_position_embeddings.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class GenerationContextLimitTests : IDisposable
{
    private const int MaxPositions = 8;

    private readonly Qwen2ForCausalLM lm = new(new Qwen2Config
    {
        VocabSize = 32, HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, NumKeyValueHeads = 1,
        TieWordEmbeddings = true, MaxPositionEmbeddings = MaxPositions,
    });

    public void Dispose() => lm.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GenerationStopsWhenPromptPlusOutputReachMaxPositions(bool useCache)
    {
        using var prompt = tensor(new long[] { 1, 2, 3, 4, 5 }).unsqueeze(0);
        var output = GreedyDecoding.FromIds(lm, prompt, maxNewTokens: 100, useCache: useCache);
        Assert.Equal(MaxPositions - 5, output[0].Length);
    }

    [Theory]
    [InlineData(MaxPositions)]
    [InlineData(MaxPositions + 3)]
    public void APromptWithNoRoomLeftIsRefusedInOneLine(int length)
    {
        using var prompt = arange(length, dtype: ScalarType.Int64).remainder(30).unsqueeze(0);
        var e = Assert.Throws<PromptTooLongException>(() => GreedyDecoding.FromIds(lm, prompt, maxNewTokens: 4));
        Assert.Equal(length, e.PromptTokens);
        Assert.Contains("max_position_embeddings of 8", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
