using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Manifests;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// Batches from several streams mixed by weight (<c>--data caption=A:0.8,interleaved=B:0.2</c>): each micro-batch
/// comes whole from one source, in the order of <see cref="MixtureSchedule"/> (after n batches source i has given
/// within one batch of n·wᵢ), which depends on the weights only, so it is deterministic. Several ranks can split the
/// one stream a single process would read: each takes the stream indices <c>takes</c> says are its own, and each of its
/// sources must then yield exactly that source's batches at those indices (<see cref="LoaderOptions.TakesBatch"/> with
/// <see cref="MixtureSchedule.IndexOf"/>). The position saved is the batches taken from each source and each source's
/// own position, so a resumed run continues with exactly the batches it would have seen.
/// </summary>
public sealed class MixtureBatchStream : IBatchStream
{
    private readonly IReadOnlyList<(string Name, double Weight, IBatchStream Stream)> _sources;
    private readonly long[] _taken;
    private readonly MixtureSchedule _schedule;
    private readonly Func<long, bool> _takes;
    private long _next;   // the stream index the next batch may come from

    /// <param name="takes">which stream indices (0-based over the whole mixture) are this reader's; null: all</param>
    public MixtureBatchStream(IReadOnlyList<(string Name, double Weight, IBatchStream Stream)> sources, Func<long, bool>? takes = null)
    {
        _schedule = new MixtureSchedule([.. sources.Select(s => s.Weight)]);
        _sources = sources;
        _taken = new long[sources.Count];
        _takes = takes ?? (_ => true);
    }

    /// <summary>Batches taken from each source so far, in the order the sources were given.</summary>
    public IReadOnlyList<long> Taken => _taken;

    /// <summary>The source the next batch comes from.</summary>
    public int NextSource() => _schedule.SourceAt(NextOwnIndex());

    private long NextOwnIndex()
    {
        long j = _next;
        while (!_takes(j)) j++;
        return j;
    }

    public DataBatch Next()
    {
        long j = NextOwnIndex();
        int i = _schedule.SourceAt(j);
        var batch = _sources[i].Stream.Next();
        _taken[i]++;
        _next = j + 1;
        return batch;
    }

    public JsonNode SavePosition()
    {
        var sources = new JsonObject();
        for (int i = 0; i < _sources.Count; i++)
            sources[_sources[i].Name] = new JsonObject { ["taken"] = _taken[i], ["position"] = _sources[i].Stream.SavePosition() };
        return new JsonObject { ["mixture"] = sources };
    }

    public void RestorePosition(JsonNode position)
    {
        if (position is JsonObject { Count: 0 })
        {
            Array.Clear(_taken);
            _next = 0;
            foreach (var s in _sources) s.Stream.RestorePosition(new JsonObject());
            return;
        }
        if (position["mixture"] is not JsonObject saved || saved.Count != _sources.Count || _sources.Any(s => !saved.ContainsKey(s.Name)))
            throw new StageContractException($"the saved data position is not of the mixture {string.Join(", ", _sources.Select(s => s.Name))}: resume with the same --data");
        for (int i = 0; i < _sources.Count; i++)
        {
            var entry = saved[_sources[i].Name]!;
            _taken[i] = entry["taken"]!.GetValue<long>();
            _sources[i].Stream.RestorePosition(entry["position"]!);
        }
        _next = IndexAfter(_taken);
    }

    /// <summary>The stream index after this reader's batches once it has taken <paramref name="taken"/> from each source.</summary>
    private long IndexAfter(long[] taken)
    {
        var seen = new long[taken.Length];
        long total = taken.Sum(), mine = 0, j = 0;
        for (; mine < total; j++)
        {
            if (!_takes(j)) continue;
            int i = _schedule.SourceAt(j);
            if (++seen[i] > taken[i])
                throw new StageContractException($"the saved data position ({string.Join(", ", taken)} batches from {string.Join(", ", _sources.Select(s => s.Name))}) is not a point of this mixture's schedule: resume with the same --data and rank count");
            mine++;
        }
        return j;
    }

    public void Dispose()
    {
        foreach (var s in _sources) s.Stream.Dispose();
    }
}
