namespace OpenQwen2VL.Training.Distributed;

/// <summary>A run of one parameter's elements inside a range of the flat parameter vector.</summary>
public readonly record struct FlatPiece(int Parameter, long ParameterOffset, long FlatOffset, long Length);

/// <summary>
/// ZeRO stage 1's split of the optimizer state: the trainable parameters, laid end to end in a flat vector of
/// <see cref="Total"/> elements (padded to <see cref="Padded"/>, a multiple of the world size), are cut into equal
/// contiguous shards of <see cref="ShardLength"/>; rank r owns [r·ShardLength, (r+1)·ShardLength) and keeps AdamW moments
/// only for it. Equal shards are what MPI_Allgather gathers after the update. A shard may start or end inside a
/// parameter: AdamW is elementwise, so updating pieces of a tensor is the same arithmetic as updating the whole.
/// </summary>
public sealed class ZeroPartition
{
    readonly long[] _starts;   // flat offset of each parameter
    readonly IReadOnlyList<long> _counts;

    public int WorldSize { get; }
    public long Total { get; }
    public long ShardLength { get; }
    public long Padded => ShardLength * WorldSize;

    public ZeroPartition(IReadOnlyList<long> elementCounts, int worldSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        _counts = elementCounts;
        _starts = new long[elementCounts.Count];
        long total = 0;
        for (int i = 0; i < elementCounts.Count; i++) { _starts[i] = total; total += elementCounts[i]; }
        WorldSize = worldSize;
        Total = total;
        ShardLength = (total + worldSize - 1) / worldSize;
    }

    /// <summary>The flat range [start, start + length) of rank <paramref name="rank"/>'s shard, cut to the real elements.</summary>
    public (long Start, long Length) Shard(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, WorldSize);
        long start = Math.Min(Total, rank * ShardLength);
        return (start, Math.Min(Total, start + ShardLength) - start);
    }

    /// <summary>The parameter pieces covering the flat range [start, start + length), in order (padding has none).</summary>
    public IReadOnlyList<FlatPiece> Pieces(long start, long length)
    {
        var pieces = new List<FlatPiece>();
        long end = Math.Min(Total, start + length);
        if (start >= end) return pieces;
        // The first parameter whose range reaches past start.
        int i = Array.BinarySearch(_starts, start);
        if (i < 0) i = ~i - 1;
        for (; i < _starts.Length && _starts[i] < end; i++)
        {
            long from = Math.Max(start, _starts[i]), to = Math.Min(end, _starts[i] + _counts[i]);
            if (to > from) pieces.Add(new FlatPiece(i, from - _starts[i], from, to - from));
        }
        return pieces;
    }

    /// <summary>The pieces of rank <paramref name="rank"/>'s shard.</summary>
    public IReadOnlyList<FlatPiece> Owned(int rank) { var (s, n) = Shard(rank); return Pieces(s, n); }
}
