using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Where attention keeps the keys/values of earlier positions during incremental decoding: <see cref="KvCache"/> (rows
/// advance together) or <see cref="SlotKvCache"/> (each row at its own length, for continuous batching).
/// </summary>
public interface IKeyValueCache
{
    /// <summary>
    /// Positions cached for <paramref name="layer"/> before this forward; attention uses it only when no mask is given
    /// (0: plain causal attention over the new positions).
    /// </summary>
    long LayerLength(int layer);

    /// <summary>Stores this forward's keys/values [B, KvHeads, l, HeadDim] for <paramref name="layer"/> and returns the keys/values attention reads.</summary>
    (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v);
}
