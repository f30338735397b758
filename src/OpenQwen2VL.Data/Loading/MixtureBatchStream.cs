using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Manifests;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// Batches from several streams mixed by weight (<c>--data caption=A:0.8,interleaved=B:0.2</c>): each micro-batch
/// comes whole from one source, the one furthest behind its share (smooth weighted round-robin: after n batches source
/// i has given within one batch of n·wᵢ, ties to the first named). The schedule depends on the weights only, so it is
/// deterministic; the position saved is the batches taken from each source and each source's own position, so a
/// resumed run continues with exactly the batches it would have seen.
/// </summary>
public sealed class MixtureBatchStream : IBatchStream
{
    private readonly IReadOnlyList<(string Name, double Weight, IBatchStream Stream)> _sources;
    private readonly long[] _taken;

    public MixtureBatchStream(IReadOnlyList<(string Name, double Weight, IBatchStream Stream)> sources)
    {
        if (sources.Count == 0) throw new ArgumentException("a mixture needs at least one source");
        if (sources.Any(s => !(s.Weight > 0))) throw new ArgumentException("mixture weights must be positive");
        double total = sources.Sum(s => s.Weight);
        _sources = [.. sources.Select(s => (s.Name, s.Weight / total, s.Stream))];
        _taken = new long[sources.Count];
    }

    /// <summary>Batches taken from each source so far, in the order the sources were given.</summary>
    public IReadOnlyList<long> Taken => _taken;

    /// <summary>The source the next batch comes from.</summary>
    public int NextSource()
    {
        long n = _taken.Sum() + 1;
        int best = 0;
        double bestDeficit = double.NegativeInfinity;
        for (int i = 0; i < _sources.Count; i++)
        {
            double deficit = n * _sources[i].Weight - _taken[i];
            if (deficit > bestDeficit + 1e-12) (best, bestDeficit) = (i, deficit);
        }
        return best;
    }

    public DataBatch Next()
    {
        int i = NextSource();
        var batch = _sources[i].Stream.Next();
        _taken[i]++;
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
    }

    public void Dispose()
    {
        foreach (var s in _sources) s.Stream.Dispose();
    }
}
