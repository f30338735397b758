using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Key/value cache for continuous batching: per decoder layer one preallocated [Slots, KvHeads, Capacity, HeadDim]
/// buffer, each slot (row) holding one sequence at its own length. A forward is either the prefill of one sequence into
/// one slot (<see cref="BeginPrefill"/>: batch 1, plain causal attention over its prompt) or one decoding step of some
/// slots (<see cref="BeginDecode"/>: one new position per slot, written at that slot's own length; attention reads the
/// first <c>keys</c> positions of those slots, and the caller's mask hides each slot's positions past its length).
/// A freed slot needs no clearing: the next prefill overwrites what the mask lets it see. The cache owns its buffers.
/// </summary>
public sealed class SlotKvCache : IKeyValueCache, IDisposable
{
    private readonly Tensor?[] keys;
    private readonly Tensor?[] values;
    private int prefillSlot = -1;
    private Tensor? rows, writeAt;
    private long keyCount;

    /// <param name="numLayers">decoder layers of the model</param>
    /// <param name="slots">sequences held at once</param>
    /// <param name="capacity">most positions one sequence takes (prompt + new tokens)</param>
    public SlotKvCache(int numLayers, int slots, long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        keys = new Tensor?[numLayers];
        values = new Tensor?[numLayers];
        Slots = slots;
        Capacity = capacity;
    }

    public int Slots { get; }
    public long Capacity { get; }

    /// <summary>The next forward is one sequence's prompt [1, L, ..] going into <paramref name="slot"/> from position 0.</summary>
    public void BeginPrefill(int slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, Slots);
        (prefillSlot, rows, writeAt, keyCount) = (slot, null, null, 0);
    }

    /// <summary>
    /// The next forward is one new position for each of <paramref name="slotRows"/> (int64 [A], the forward's batch
    /// rows in order), written at <paramref name="positions"/> (int64 [A], each slot's cached length); attention reads
    /// the first <paramref name="keyPositions"/> positions of those slots. The tensors must live through the forward.
    /// </summary>
    public void BeginDecode(Tensor slotRows, Tensor positions, long keyPositions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keyPositions, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(keyPositions, Capacity);
        (prefillSlot, rows, writeAt, keyCount) = (-1, slotRows, positions, keyPositions);
    }

    /// <summary>0 during a prefill (causal attention over the prompt); during a decoding step the caller passes a mask.</summary>
    public long LayerLength(int layer) => prefillSlot >= 0 ? 0 : keyCount - 1;

    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        keys[layer] ??= Allocate(k);
        values[layer] ??= Allocate(v);
        if (prefillSlot >= 0)
        {
            if (k.shape[0] != 1) throw new InvalidOperationException($"a prefill is one sequence, not {k.shape[0]}");
            long length = k.shape[2];
            if (length > Capacity) throw new InvalidOperationException($"slot cache of {Capacity} positions cannot take a prompt of {length}");
            using (var slot = keys[layer]!.select(0, prefillSlot).narrow(1, 0, length)) slot.copy_(k.squeeze(0));
            using (var slot = values[layer]!.select(0, prefillSlot).narrow(1, 0, length)) slot.copy_(v.squeeze(0));
            return (k, v);
        }
        if (rows is null || writeAt is null) throw new InvalidOperationException("call BeginPrefill or BeginDecode before each forward");
        if (k.shape[2] != 1) throw new InvalidOperationException($"a decoding step adds one position per slot, not {k.shape[2]}");
        using var scope = NewDisposeScope();
        // Advanced indices around a slice: the value is [A, KvHeads, HeadDim], one position per (slot, its length).
        var at = new[] { TensorIndex.Tensor(rows), TensorIndex.Colon, TensorIndex.Tensor(writeAt) };
        keys[layer]!.index_put_(k.squeeze(2), at);
        values[layer]!.index_put_(v.squeeze(2), at);
        var readKeys = keys[layer]!.narrow(2, 0, keyCount).index_select(0, rows);
        var readValues = values[layer]!.narrow(2, 0, keyCount).index_select(0, rows);
        return (readKeys.MoveToOuterDisposeScope(), readValues.MoveToOuterDisposeScope());
    }

    private Tensor Allocate(Tensor like)
    {
        // Zeros, not empty: masked-out positions still meet a 0 attention weight, and 0 * NaN of uninitialised memory is NaN.
        var buffer = zeros([Slots, like.shape[1], Capacity, like.shape[3]], dtype: like.dtype, device: like.device);
        buffer.DetachFromDisposeScope();
        return buffer;
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
