using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// The pre-training sample the packer and the caption loader use: <see cref="CaptionPromptBuilder"/>'s
/// <c>&lt;s&gt; &lt;image&gt; \n caption &lt;|im_end|&gt;</c>, plus the packing length estimate.
/// </summary>
public sealed class CaptionSampleBuilder(ITextTokenizer tokenizer, int visualTokens)
{
    public const int ImageMarker = MultimodalTokens.ImageMarker;

    private readonly CaptionPromptBuilder _prompt = new(tokenizer);

    public int VisualTokens { get; } = visualTokens;

    /// <summary>Token ids with one <see cref="ImageMarker"/>.</summary>
    public int[] Build(string caption) => _prompt.Build(caption).InputIds;

    /// <summary>Length the sample takes in the model's sequence: each marker becomes <see cref="VisualTokens"/> tokens.</summary>
    public int EstimatedLength(ReadOnlySpan<int> ids)
    {
        int markers = 0;
        foreach (var id in ids) if (id == ImageMarker) markers++;
        return ids.Length + markers * (VisualTokens - 1);
    }
}
