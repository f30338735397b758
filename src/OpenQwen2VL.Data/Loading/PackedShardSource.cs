using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Loading;

/// <summary>Packed shards written by <c>oqvl pack</c> (docs/packed-format.md): one example per packed sequence.</summary>
public sealed class PackedShardSource : IExampleSource
{
    public IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats)
    {
        foreach (var s in WebDatasetReader.Read(shardPath, stats))
        {
            if (s.Key == PackedHeader.HeaderKey)
            {
                PackedHeader.Parse(s.Members["json"]); // refuses other formats and newer versions
                stats.Keep();
                continue;
            }
            if (!TryRead(s, out var example, out var reason)) { stats.Skip(reason!); continue; }
            stats.Keep();
            yield return example!;
        }
    }

    private static bool TryRead(WebDatasetSample s, out LoaderExample? example, out string? reason)
    {
        example = null;
        if (!s.Members.TryGetValue("json", out var json)) { reason = "missing_pack_json"; return false; }
        PackedSequence seq;
        try { seq = PackedSequence.Parse(json); }
        catch (System.Text.Json.JsonException) { reason = "invalid_pack_json"; return false; }
        var images = new ReadOnlyMemory<byte>[seq.ImageCount];
        foreach (var (ext, bytes) in s.Members)
        {
            // img000.jpg → 0
            if (ext.Length < 7 || !ext.StartsWith("img", StringComparison.Ordinal) || !int.TryParse(ext.AsSpan(3, 3), out int i) || i >= images.Length) continue;
            images[i] = bytes;
        }
        int markers = seq.Ids.Count(id => id == CaptionSampleBuilder.ImageMarker);
        if (markers != seq.ImageCount || images.Any(m => m.IsEmpty)) { reason = "pack_image_mismatch"; return false; }
        example = new LoaderExample { Ids = seq.Ids, Images = images, Id = $"{Path.GetFileName(s.ShardPath)}:{s.Key}" };
        reason = null;
        return true;
    }
}
