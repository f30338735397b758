namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// The result of packing item lengths into bins of one capacity, as flat arrays (no per-bin objects, so
/// tens of millions of items stay cheap): the items of bin b are
/// <c>Items[BinStarts[b] .. BinStarts[b + 1]]</c>, in the order they were placed.
/// </summary>
public sealed class BinPacking
{
    public BinPacking(int capacity, int[] items, int[] binStarts, int[] binLoads)
    {
        Capacity = capacity;
        Items = items;
        BinStarts = binStarts;
        BinLoads = binLoads;
    }

    public int Capacity { get; }
    /// <summary>Item indices grouped by bin.</summary>
    public int[] Items { get; }
    /// <summary>Start of each bin in <see cref="Items"/>; length BinCount + 1.</summary>
    public int[] BinStarts { get; }
    /// <summary>Sum of item lengths per bin.</summary>
    public int[] BinLoads { get; }

    public int BinCount => BinLoads.Length;
    public int ItemCount => Items.Length;
    public ReadOnlySpan<int> ItemsOf(int bin) => Items.AsSpan(BinStarts[bin], BinStarts[bin + 1] - BinStarts[bin]);

    public long TotalLoad
    {
        get { long s = 0; foreach (var l in BinLoads) s += l; return s; }
    }

    /// <summary>Used tokens over available tokens (1 − padding fraction); 0 for no bins.</summary>
    public double FillRatio => BinCount == 0 ? 0 : (double)TotalLoad / ((long)BinCount * Capacity);

    /// <summary>Builds the flat form from per-bin item lists (used by the naive reference).</summary>
    public static BinPacking FromBins(int capacity, IReadOnlyList<IReadOnlyList<int>> bins, ReadOnlySpan<int> lengths)
    {
        var starts = new int[bins.Count + 1];
        var loads = new int[bins.Count];
        var items = new List<int>();
        for (int b = 0; b < bins.Count; b++)
        {
            starts[b] = items.Count;
            foreach (var i in bins[b]) { items.Add(i); loads[b] += lengths[i]; }
        }
        starts[bins.Count] = items.Count;
        return new BinPacking(capacity, items.ToArray(), starts, loads);
    }

    /// <summary>Concatenates packings of disjoint item sets (e.g. per shard); item indices are mapped by <paramref name="itemMaps"/>.</summary>
    public static BinPacking Concat(int capacity, IReadOnlyList<BinPacking> parts, IReadOnlyList<int[]> itemMaps)
    {
        int bins = parts.Sum(p => p.BinCount), n = parts.Sum(p => p.ItemCount);
        var items = new int[n];
        var starts = new int[bins + 1];
        var loads = new int[bins];
        int bi = 0, ii = 0;
        for (int p = 0; p < parts.Count; p++)
        {
            var part = parts[p];
            for (int b = 0; b < part.BinCount; b++, bi++)
            {
                starts[bi] = ii;
                loads[bi] = part.BinLoads[b];
                foreach (var i in part.ItemsOf(b)) items[ii++] = itemMaps[p][i];
            }
        }
        starts[bins] = ii;
        return new BinPacking(capacity, items, starts, loads);
    }
}
