using System.Globalization;

namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Writes samples into a numbered series of shards (<c>DIR/{0:D5}.tar</c> by default), starting a new
/// shard every <c>maxSamplesPerShard</c> samples. Each shard is published atomically when it is full. A sample whose
/// key equals the one written just before it also starts a new shard: in a tar, a sample is a run of members of one key,
/// so the two would merge into one in any WebDataset reader (inputs from two sources can repeat keys).
/// </summary>
public sealed class ShardedWebDatasetWriter : IDisposable
{
    private readonly string _dir;
    private readonly string _pattern;
    private readonly int _maxSamplesPerShard;
    private readonly Func<int, IReadOnlyDictionary<string, ReadOnlyMemory<byte>>?>? _shardPreamble;
    private readonly List<string> _completed = [];
    private WebDatasetWriter? _current;
    private string? _lastKey;
    private bool _disposed;

    /// <param name="pattern">composite format for the shard file name, given the shard index</param>
    /// <param name="shardPreamble">optional members written as sample <c>__header__</c> at the start of every shard</param>
    public ShardedWebDatasetWriter(string dir, string pattern = "{0:D5}.tar", int maxSamplesPerShard = 10000,
        Func<int, IReadOnlyDictionary<string, ReadOnlyMemory<byte>>?>? shardPreamble = null)
    {
        if (maxSamplesPerShard < 1) throw new ArgumentOutOfRangeException(nameof(maxSamplesPerShard));
        _dir = dir;
        _pattern = pattern;
        _maxSamplesPerShard = maxSamplesPerShard;
        _shardPreamble = shardPreamble;
        Directory.CreateDirectory(dir);
    }

    /// <summary>Paths of the shards published so far, in order.</summary>
    public IReadOnlyList<string> CompletedShards => _completed;
    public long SampleCount { get; private set; }
    /// <summary>Samples written per shard (not counting preambles), in shard order.</summary>
    public List<int> SamplesPerShard { get; } = [];

    public void Write(string key, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> members)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_current is not null && key == _lastKey) CompleteCurrent();
        if (_current is null)
        {
            int index = _completed.Count;
            _current = new WebDatasetWriter(Path.Combine(_dir, string.Format(CultureInfo.InvariantCulture, _pattern, index)));
            SamplesPerShard.Add(0);
            if (_shardPreamble?.Invoke(index) is { } preamble) _current.Write("__header__", preamble);
        }
        _current.Write(key, members);
        _lastKey = key;
        SamplesPerShard[^1]++;
        SampleCount++;
        if (SamplesPerShard[^1] >= _maxSamplesPerShard) CompleteCurrent();
    }

    private void CompleteCurrent()
    {
        if (_current is null) return;
        _current.Complete();
        _completed.Add(_current.Path);
        _current = null;
    }

    /// <summary>Publishes the last (partial) shard.</summary>
    public void Complete()
    {
        if (_disposed) return;
        CompleteCurrent();
        _disposed = true;
    }

    public void Dispose() => Complete();
}
