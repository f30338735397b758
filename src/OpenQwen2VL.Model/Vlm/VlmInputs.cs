using OpenQwen2VL.Model.Qwen2;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>The LM-side view of a batch after image tokens are spliced in (tensors owned by the caller).</summary>
/// <param name="Embeds">[B, L', D] input embeddings, rows right-padded with zeros</param>
/// <param name="Labels">[B, L'] int64, -100 at image tokens and padding</param>
/// <param name="ImageMask">[B, L'] bool, true at image tokens</param>
/// <param name="Lengths">real (unpadded) length of each row</param>
/// <param name="PredictingPositions">
/// host-side flat positions <c>b * L' + t</c> whose next token in the row has a label: the only positions whose
/// logits the loss reads (in SFT a few answer tokens of each conversation)
/// </param>
/// <param name="Segments">the packed sequences of each row in the spliced layout (image tokens in their marker's sequence,
/// padding its own), or null for one sequence per row</param>
public sealed record VlmInputs(Tensor Embeds, Tensor Labels, Tensor ImageMask, long[] Lengths, long[] PredictingPositions, PackedSegments? Segments = null) : IDisposable
{
    public void Dispose()
    {
        Embeds.Dispose();
        Labels.Dispose();
        ImageMask.Dispose();
    }
}
