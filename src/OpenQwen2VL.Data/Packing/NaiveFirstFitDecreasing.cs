namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// The textbook First-Fit-Decreasing, O(n · bins): the reference that <see cref="FirstFitDecreasing"/>
/// must match bin for bin. Kept deliberately plain.
/// </summary>
public static class NaiveFirstFitDecreasing
{
    public static BinPacking Pack(ReadOnlySpan<int> lengths, int capacity)
    {
        var lens = lengths.ToArray();
        // OrderByDescending is a stable sort: equal lengths keep their input order.
        var order = Enumerable.Range(0, lens.Length).OrderByDescending(i => lens[i]).ToList();
        var bins = new List<List<int>>();
        var free = new List<int>();
        foreach (var item in order)
        {
            if (lens[item] > capacity) throw new ArgumentOutOfRangeException(nameof(lengths));
            int b = 0;
            while (b < bins.Count && free[b] < lens[item]) b++;
            if (b == bins.Count) { bins.Add([]); free.Add(capacity); }
            bins[b].Add(item);
            free[b] -= lens[item];
        }
        return BinPacking.FromBins(capacity, bins, lens);
    }
}
