using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// Unpacked img2dataset shards: one pre-training sample per example (<c>&lt;s&gt; &lt;image&gt; \n caption
/// &lt;|im_end|&gt;</c>), text cut to <paramref name="maxIds"/> ids. Images are validated by the loader's workers.
/// </summary>
public sealed class CaptionShardSource(CaptionSampleBuilder builder, int maxIds = 4096) : IExampleSource
{
    public IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats)
    {
        foreach (var s in WebDatasetReader.Read(shardPath, stats))
        {
            if (!Img2DatasetParser.TryParse(s, out var parsed, out var reason)) { stats.Skip(reason!); continue; }
            var ids = builder.Build(parsed!.Caption);
            if (ids.Length > maxIds) ids = ids[..maxIds];
            stats.Keep();
            yield return new LoaderExample { Ids = ids, Images = [parsed.Image], Id = $"{Path.GetFileName(shardPath)}:{s.Key}" };
        }
    }
}
