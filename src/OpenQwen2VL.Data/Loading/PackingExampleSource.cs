using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// Packs another source's examples on the fly (e.g. SFT conversations): windows of
/// <paramref name="window"/> examples of one shard are packed by First-Fit-Decreasing on their estimated
/// length (markers count as <paramref name="visualTokens"/>) into sequences of at most
/// <paramref name="capacity"/>; ids, labels and images are concatenated in pack order, and each member stays its own
/// segment (<see cref="LoaderExample.SegmentLengths"/>: the model restarts positions and keeps attention inside it, so a
/// pack trains as its conversations would one by one). Deterministic, so loader resume stays exact. Examples longer than
/// the capacity are skipped ("over_capacity").
/// </summary>
public sealed class PackingExampleSource(IExampleSource inner, int capacity, int visualTokens, int window = 2048) : IExampleSource
{
    public IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats)
    {
        var buffer = new List<LoaderExample>();
        int packIndex = 0;
        foreach (var ex in inner.ReadShard(shardPath, stats))
        {
            if (Length(ex) > capacity)
            {
                // The inner source counted it as kept; move it to skipped so the totals still balance.
                stats.Keep(-1);
                stats.Skip(PackPipeline.OverCapacity);
                continue;
            }
            buffer.Add(ex);
            if (buffer.Count < window) continue;
            foreach (var p in Pack(buffer, shardPath, packIndex)) { packIndex++; yield return p; }
            buffer.Clear();
        }
        foreach (var p in Pack(buffer, shardPath, packIndex)) { packIndex++; yield return p; }
    }

    private int Length(LoaderExample e) => e.Ids.Length + e.Images.Length * (visualTokens - 1);

    /// <summary>
    /// A member's labels with its first one ignored: alone, its first token is predicted by nothing (the loss shifts by
    /// one), so in a pack the previous member's last token must not predict it either.
    /// </summary>
    private static int[] SegmentLabels(LoaderExample m)
    {
        var labels = m.Labels is { } l ? (int[])l.Clone() : m.Ids.Select(id => id == CaptionSampleBuilder.ImageMarker ? DataBatch.IgnoreIndex : id).ToArray();
        if (labels.Length > 0) labels[0] = DataBatch.IgnoreIndex;
        return labels;
    }

    private IEnumerable<LoaderExample> Pack(List<LoaderExample> examples, string shardPath, int firstPack)
    {
        if (examples.Count == 0) yield break;
        var packing = FirstFitDecreasing.Pack(examples.Select(Length).ToArray(), capacity);
        for (int b = 0; b < packing.BinCount; b++)
        {
            var members = packing.ItemsOf(b).ToArray().Select(i => examples[i]).ToList();
            yield return new LoaderExample
            {
                Ids = [.. members.SelectMany(m => m.Ids)],
                Labels = [.. members.SelectMany(SegmentLabels)],
                Images = [.. members.SelectMany(m => m.Images)],
                SegmentLengths = [.. members.SelectMany(m => m.SegmentLengths ?? [m.Ids.Length])],
                Id = $"{Path.GetFileName(shardPath)}:pack{firstPack + b}[{string.Join(",", members.Select(m => m.Id))}]",
            };
        }
    }
}
