using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>The three networks' configs plus the projector's pooled grid side.</summary>
public sealed record VlmConfig(SiglipVisionConfig Vision, Qwen2Config Llm, int PoolSide)
{
    /// <summary>Image token id in <see cref="VlmBatch.InputIds"/>.</summary>
    public const long ImageMarker = VlmBatch.ImageMarker;

    /// <summary>Positions one image occupies in the spliced sequence.</summary>
    public int TokensPerImage => PoolSide * PoolSide;

    /// <summary>
    /// A tiny random-init preset for tests, smoke runs and benchmarks (same architecture, small sizes):
    /// 56-px images in 7-px patches (8x8 grid) pooled to 4x4, a 2-layer GQA LM.
    /// </summary>
    public static VlmConfig Tiny(int vocabSize, bool tieWordEmbeddings = true) => new(
        new SiglipVisionConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 2, ImageSize = 56, PatchSize = 7 },
        new Qwen2Config
        {
            VocabSize = vocabSize, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, RopeTheta = 1e6, TieWordEmbeddings = tieWordEmbeddings, MaxPositionEmbeddings = 4096,
        },
        PoolSide: 4);
}
