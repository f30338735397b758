using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>VLM forward result (tensors owned by the caller).</summary>
/// <param name="Logits">[B, L', V] logits over the spliced sequence</param>
/// <param name="Loss">scalar next-token loss over labels != -100 (HF shift)</param>
/// <param name="ImageMask">[B, L'] bool, true at image tokens</param>
public sealed record VlmOutput(Tensor Logits, Tensor Loss, Tensor ImageMask) : IDisposable
{
    public void Dispose()
    {
        Logits.Dispose();
        Loss.Dispose();
        ImageMask.Dispose();
    }
}
