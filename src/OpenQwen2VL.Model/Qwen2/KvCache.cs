using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Key/value cache for incremental decoding: per decoder layer, the keys and values of every position
/// seen so far ([B, KvHeads, T, HeadDim], before the GQA expansion). The cache owns its tensors (they
/// are detached from dispose scopes) and frees them on <see cref="Dispose"/>.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] keys;
    private readonly Tensor?[] values;

    public KvCache(int numLayers)
    {
        keys = new Tensor?[numLayers];
        values = new Tensor?[numLayers];
    }

    /// <summary>Number of cached positions before the current forward (the last layer is extended last).</summary>
    public long Length => LayerLength(keys.Length - 1);

    /// <summary>Number of positions cached for one layer.</summary>
    public long LayerLength(int layer) => keys[layer]?.shape[2] ?? 0;

    /// <summary>Appends this step's keys/values for <paramref name="layer"/> and returns the full cached sequence.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        keys[layer] = Concat(keys[layer], k);
        values[layer] = Concat(values[layer], v);
        return (keys[layer]!, values[layer]!);
    }

    private static Tensor Concat(Tensor? old, Tensor step)
    {
        var full = old is null ? step.contiguous() : cat([old, step], 2);
        if (ReferenceEquals(full, step)) full = step.clone(); // never alias a tensor the caller's scope will free
        full.DetachFromDisposeScope();
        old?.Dispose();
        return full;
    }

    public void Dispose()
    {
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i]?.Dispose(); keys[i] = null;
            values[i]?.Dispose(); values[i] = null;
        }
    }
}
