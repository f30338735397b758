using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>Outputs of the full vision tower (tensors owned by the caller).</summary>
/// <param name="Penultimate">[N, P, D] output of the second-to-last block (the VLM's features)</param>
/// <param name="LastHiddenState">[N, P, D] after the last block and post_layernorm</param>
/// <param name="PoolerOutput">[N, D] attention-pooled, or null when the config has no head</param>
public sealed record SiglipVisionOutput(Tensor Penultimate, Tensor LastHiddenState, Tensor? PoolerOutput) : IDisposable
{
    public void Dispose()
    {
        Penultimate.Dispose();
        LastHiddenState.Dispose();
        PoolerOutput?.Dispose();
    }
}
