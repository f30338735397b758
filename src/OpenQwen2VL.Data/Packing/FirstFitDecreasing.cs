namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// First-Fit-Decreasing bin packing with exactly the textbook result — items taken longest first (ties
/// in input order), each put into the lowest-index bin with room, a new bin when none has room — in
/// O(n log n) instead of O(n · bins).
/// <para>
/// Two ideas make it fast at the paper's scale (29M items): lengths are bounded by the capacity, so the
/// stable descending order is a counting sort (O(n + capacity)); and "lowest-index bin with room" is a
/// descent in a max segment tree over the bins' free space. Unopened bins sit in the tree with full
/// free space after the opened ones, so the descent finds a new bin exactly when no open bin fits.
/// The number of bins is bounded before packing: in First Fit no two bins are both at most half full,
/// so bins ≤ 2·sum/capacity + 1. Written by hand: no .NET library packs bins.
/// </para>
/// </summary>
public static class FirstFitDecreasing
{
    /// <param name="lengths">item lengths, each in [0, capacity]</param>
    // One long call: skip tier-0 code, which would run most of the loop before on-stack replacement.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static BinPacking Pack(ReadOnlySpan<int> lengths, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "capacity must be >= 1");
        int n = lengths.Length;
        long sum = 0;
        foreach (var len in lengths)
        {
            if ((uint)len > (uint)capacity) throw new ArgumentOutOfRangeException(nameof(lengths), $"item length {len} is outside [0, {capacity}]");
            sum += len;
        }
        if (n == 0) return new BinPacking(capacity, [], [0], []);

        int[] order = SortDescendingStable(lengths, capacity);

        long bound = Math.Min(n, 2 * sum / capacity + 1);
        int leaves = 1;
        while (leaves < bound) leaves <<= 1;
        // tree[1] is the root; leaf b is tree[leaves + b]; every node holds the max free space below it.
        var tree = new int[2 * leaves];
        Array.Fill(tree, capacity);

        var binOfItem = new int[n];
        int binCount = 0;
        foreach (int item in order)
        {
            int len = lengths[item];
            int node = 1;
            while (node < leaves) node = tree[2 * node] >= len ? 2 * node : 2 * node + 1;
            int bin = node - leaves;
            binOfItem[item] = bin;
            if (bin >= binCount) binCount = bin + 1;
            tree[node] -= len;
            for (node >>= 1; node >= 1; node >>= 1)
            {
                int m = Math.Max(tree[2 * node], tree[2 * node + 1]);
                if (tree[node] == m) break; // ancestors already hold the right maximum
                tree[node] = m;
            }
        }

        // Group items by bin, keeping placement order inside each bin (a stable counting pass).
        var starts = new int[binCount + 1];
        foreach (int item in order) starts[binOfItem[item] + 1]++;
        for (int b = 0; b < binCount; b++) starts[b + 1] += starts[b];
        var loads = new int[binCount];
        var items = new int[n];
        var cursor = starts.AsSpan(0, binCount).ToArray();
        foreach (int item in order)
        {
            int b = binOfItem[item];
            items[cursor[b]++] = item;
            loads[b] += lengths[item];
        }
        return new BinPacking(capacity, items, starts, loads);
    }

    /// <summary>Item indices by length descending, ties in index order: a counting sort over [0, capacity].</summary>
    public static int[] SortDescendingStable(ReadOnlySpan<int> lengths, int capacity)
    {
        var counts = new int[capacity + 2];
        foreach (var len in lengths) counts[capacity - len + 1]++; // bucket capacity - len: longest first
        for (int k = 1; k < counts.Length; k++) counts[k] += counts[k - 1];
        var order = new int[lengths.Length];
        for (int i = 0; i < lengths.Length; i++) order[counts[capacity - lengths[i]]++] = i;
        return order;
    }
}
