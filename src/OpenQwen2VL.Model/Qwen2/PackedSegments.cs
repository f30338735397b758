using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Several sequences packed into each row of a [B, L] batch (packed SFT), kept host-side as a segment id per token:
/// contiguous runs of one id are one sequence (two runs sharing an id are two). Each sequence's rotary positions restart at 0 and its tokens attend only
/// to earlier tokens of the same sequence (a block-diagonal causal mask), so a pack computes what its sequences would
/// one by one. Padding is a segment of its own (any id its neighbours do not use, e.g. -1): it attends to itself, so no
/// softmax row is empty. Plain values only, so an activation-checkpointed layer can rebuild the tensors in backward.
/// </summary>
public sealed class PackedSegments
{
    /// <param name="segmentIds">row-major [rows, length] segment of every token</param>
    public PackedSegments(long[] segmentIds, long rows, long length)
    {
        if (segmentIds.LongLength != rows * length)
            throw new ArgumentException($"{segmentIds.LongLength} segment ids for a [{rows}, {length}] batch");
        SegmentIds = segmentIds;
        Rows = rows;
        Length = length;
        var positions = new long[segmentIds.LongLength];
        var runLengths = new long[rows][];
        var row = new List<long>();
        for (long b = 0; b < rows; b++)
        {
            row.Clear();
            long runStart = 0;
            for (long t = 1, o = b * length + 1; t < length; t++, o++)
            {
                positions[o] = segmentIds[o] == segmentIds[o - 1] ? positions[o - 1] + 1 : 0;
                if (positions[o] == 0) { row.Add(t - runStart); runStart = t; }
            }
            if (length > 0) row.Add(length - runStart);
            runLengths[b] = row.ToArray();
        }
        HostPositions = positions;
        RunLengths = runLengths;
    }

    public long[] SegmentIds { get; }
    public long Rows { get; }
    public long Length { get; }

    /// <summary>Row-major [rows, length] position of every token inside its sequence (0 at each sequence's first token).</summary>
    public long[] HostPositions { get; }

    /// <summary>Per row, the lengths of its sequences (contiguous runs of one id, padding included) in order; they sum to the length.</summary>
    public long[][] RunLengths { get; }

    /// <summary>Mean length of a sequence over all rows (padding runs count as sequences).</summary>
    public double MeanRunLength => (double)SegmentIds.LongLength / Math.Max(1, RunLengths.Sum(r => r.LongLength));

    /// <summary>int64 [B, L] rotary positions, restarting at 0 at every sequence.</summary>
    public Tensor Positions(Device device) => tensor(HostPositions, [Rows, Length], device: device);

    /// <summary>
    /// bool [B, 1, L, L], true where query t may attend to key s: s ≤ t in the same sequence. Sequences are runs, as for
    /// the positions and the per-sequence path: two runs that happen to share an id stay apart.
    /// </summary>
    public Tensor AttentionMask(Device device)
    {
        using var scope = NewDisposeScope();
        var runs = new long[HostPositions.LongLength];
        for (long o = 0, run = -1; o < runs.LongLength; o++) runs[o] = HostPositions[o] == 0 ? ++run : run;
        var ids = tensor(runs, [Rows, Length], device: device);
        var same = ids.unsqueeze(2).eq(ids.unsqueeze(1));
        var causal = ones(Length, Length, dtype: ScalarType.Bool, device: device).tril();
        return same.logical_and(causal).unsqueeze(1).MoveToOuterDisposeScope();
    }
}
