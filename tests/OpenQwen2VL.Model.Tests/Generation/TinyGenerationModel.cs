using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Generation;

/// <summary>
/// The generation tests' model: small enough for 2 cores, still GQA, two layers and several tokens per image (2x2
/// pooled), in eval mode; and three seeded images for it. Disposing releases both.
/// </summary>
public sealed class TinyGenerationModel : IDisposable
{
    public VisionLanguageModel Vlm { get; }
    public Tensor Pixels { get; }

    public TinyGenerationModel(int maxPositions)
    {
        Vlm = VisionLanguageModel.CreateRandom(new VlmConfig(
            new SiglipVisionConfig { HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 28, PatchSize = 7 },
            new Qwen2Config { VocabSize = 61, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, TieWordEmbeddings = true, MaxPositionEmbeddings = maxPositions },
            PoolSide: 2), seed: 11);
        Vlm.eval();
        var v = Vlm.Config.Vision;
        Pixels = randn(3, v.NumChannels, v.ImageSize, v.ImageSize, generator: new Generator(3));
    }

    public void Dispose()
    {
        Pixels.Dispose();
        Vlm.Dispose();
    }
}
