using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Loading;

/// <summary>Turns one shard into training examples, in shard order. Bad samples are skipped and counted in <paramref name="stats"/>.</summary>
public interface IExampleSource
{
    IEnumerable<LoaderExample> ReadShard(string shardPath, SkipStats stats);
}
