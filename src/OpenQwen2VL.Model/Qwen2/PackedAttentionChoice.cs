namespace OpenQwen2VL.Model.Qwen2;

/// <summary>How attention over packed rows (<see cref="PackedSegments"/>) runs.</summary>
public enum PackedAttentionChoice
{
    /// <summary>Per sequence where the mean sequence length makes it cheaper (<see cref="PackedCausalAttention.RunsPerSequence"/>), else the dense mask.</summary>
    Measured,
    /// <summary>Always sequence by sequence (<see cref="PackedCausalAttention.Attend"/>).</summary>
    PerSequence,
    /// <summary>Always SDPA under the dense block-diagonal mask (<see cref="PackedSegments.AttentionMask"/>): the baseline benchmarks compare with.</summary>
    DenseMask,
}
