using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Key/value cache for incremental decoding, preallocated: per decoder layer one [B, KvHeads, Capacity, HeadDim]
/// buffer for keys and one for values (before the GQA expansion). Each forward writes its keys/values into the next
/// slice and attention reads the filled prefix, so decoding never concatenates or reallocates. The buffers are made on
/// the first write, in the dtype and on the device of the keys (the model decides where it runs); the cache owns them
/// (detached from dispose scopes) and frees them on <see cref="Dispose"/>.
/// </summary>
public sealed class KvCache : IKeyValueCache, IDisposable
{
    private readonly Tensor?[] keys;
    private readonly Tensor?[] values;
    private readonly long[] filled;

    /// <param name="numLayers">decoder layers of the model</param>
    /// <param name="capacity">most positions the cache will hold (prompt + new tokens, padding included)</param>
    public KvCache(int numLayers, long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        keys = new Tensor?[numLayers];
        values = new Tensor?[numLayers];
        filled = new long[numLayers];
        Capacity = capacity;
    }

    /// <summary>Most positions the cache holds.</summary>
    public long Capacity { get; }

    /// <summary>Number of cached positions before the current forward (the last layer is extended last).</summary>
    public long Length => LayerLength(keys.Length - 1);

    /// <summary>Number of positions cached for one layer.</summary>
    public long LayerLength(int layer) => filled[layer];

    /// <summary>
    /// Writes this step's keys/values [B, KvHeads, l, HeadDim] for <paramref name="layer"/> after the cached ones and
    /// returns views of the filled prefix (cached + new positions); the views share the preallocated storage.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long start = filled[layer], l = k.shape[2];
        if (start + l > Capacity)
            throw new InvalidOperationException($"key/value cache of {Capacity} positions cannot take {l} more after {start}");
        keys[layer] ??= Allocate(k);
        values[layer] ??= Allocate(v);
        using (var slot = keys[layer]!.narrow(2, start, l)) slot.copy_(k);
        using (var slot = values[layer]!.narrow(2, start, l)) slot.copy_(v);
        filled[layer] = start + l;
        return (keys[layer]!.narrow(2, 0, start + l), values[layer]!.narrow(2, 0, start + l));
    }

    private Tensor Allocate(Tensor like)
    {
        var buffer = empty([like.shape[0], like.shape[1], Capacity, like.shape[3]], dtype: like.dtype, device: like.device);
        buffer.DetachFromDisposeScope();
        return buffer;
    }

    public void Dispose()
    {
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i]?.Dispose(); keys[i] = null;
            values[i]?.Dispose(); values[i] = null;
            filled[i] = 0;
        }
    }
}
