namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// The order in which a weighted mixture draws its sources, batch by batch over the whole stream: smooth weighted
/// round-robin (batch j comes from the source furthest behind its share j·wᵢ, ties to the first named), so after n
/// batches source i has given within one batch of n·wᵢ. It depends on the weights only. Walked forward as asked; asked
/// for an earlier batch, it starts again from the beginning (a resume does that once). Not thread-safe: each user
/// holds its own.
/// </summary>
public sealed class MixtureSchedule
{
    private readonly double[] _weights;
    private readonly long[] _counts;
    private long _position;

    /// <param name="weights">positive weights, in the order of the sources (normalised here)</param>
    public MixtureSchedule(IReadOnlyList<double> weights)
    {
        if (weights.Count == 0) throw new ArgumentException("a mixture needs at least one source");
        if (weights.Any(w => !(w > 0))) throw new ArgumentException("mixture weights must be positive");
        double total = weights.Sum();
        _weights = [.. weights.Select(w => w / total)];
        _counts = new long[weights.Count];
    }

    /// <summary>The source of batch <paramref name="index"/> (0-based over the whole stream).</summary>
    public int SourceAt(long index)
    {
        if (index < _position) Reset();
        while (_position < index) Advance();
        return Peek();
    }

    /// <summary>The stream index of source <paramref name="source"/>'s <paramref name="nth"/> batch (both 0-based).</summary>
    public long IndexOf(int source, long nth)
    {
        if (_counts[source] > nth) Reset();   // counts are of the batches before the position: the nth is at or after it
        while (true)
        {
            if (_counts[source] == nth && Peek() == source) return _position;
            Advance();
        }
    }

    private int Peek()
    {
        long n = _position + 1;
        int best = 0;
        double bestDeficit = double.NegativeInfinity;
        for (int i = 0; i < _weights.Length; i++)
        {
            double deficit = n * _weights[i] - _counts[i];
            if (deficit > bestDeficit + 1e-12) (best, bestDeficit) = (i, deficit);
        }
        return best;
    }

    private void Advance()
    {
        _counts[Peek()]++;
        _position++;
    }

    private void Reset()
    {
        Array.Clear(_counts);
        _position = 0;
    }
}
