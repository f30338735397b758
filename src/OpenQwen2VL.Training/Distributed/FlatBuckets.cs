namespace OpenQwen2VL.Training.Distributed;

/// <summary>One contiguous run of a tensor's elements placed at <see cref="BucketOffset"/> in a flat bucket.</summary>
public readonly record struct BucketPiece(int Tensor, long TensorOffset, long BucketOffset, long Length);

/// <summary>
/// Lays tensors (by element count, in order) end to end into flat buckets of at most <c>capacity</c> elements, splitting
/// a tensor across buckets where it does not fit: every element lands in exactly one bucket, in order, and only the last
/// bucket may be partly full. Few large messages instead of one per tensor is what makes an all-reduce fast.
/// </summary>
public static class FlatBuckets
{
    public static IReadOnlyList<IReadOnlyList<BucketPiece>> Plan(IReadOnlyList<long> elementCounts, long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var buckets = new List<IReadOnlyList<BucketPiece>>();
        var current = new List<BucketPiece>();
        long used = 0;
        for (int t = 0; t < elementCounts.Count; t++)
        {
            long offset = 0, left = elementCounts[t];
            ArgumentOutOfRangeException.ThrowIfNegative(left);
            while (left > 0)
            {
                if (used == capacity) { buckets.Add(current); current = []; used = 0; }
                long n = Math.Min(left, capacity - used);
                current.Add(new BucketPiece(t, offset, used, n));
                used += n; offset += n; left -= n;
            }
        }
        if (current.Count > 0) buckets.Add(current);
        return buckets;
    }

    /// <summary>Elements of a bucket of <paramref name="bytes"/> bytes of fp32 (at least one).</summary>
    public static long Fp32Capacity(long bytes) => Math.Max(1, bytes / sizeof(float));
}
