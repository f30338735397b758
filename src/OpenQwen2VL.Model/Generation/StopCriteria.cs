namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// When one row stops: after any of <see cref="TokenIds"/> (EOS, end of turn), or once its decoded output contains
/// any of <see cref="Strings"/>. The token that stops a row is kept in its output (as HF generate does); the text is
/// not cut.
/// </summary>
/// <param name="TokenIds">stop token ids</param>
/// <param name="Strings">stop strings (need <paramref name="Decode"/>)</param>
/// <param name="Decode">the tokenizer's decoding of a row's new ids, for the stop strings</param>
public sealed record StopCriteria(IReadOnlyCollection<long> TokenIds, IReadOnlyList<string>? Strings = null, Func<IReadOnlyList<long>, string>? Decode = null)
{
    /// <summary>No stop condition: a row runs to its token budget.</summary>
    public static readonly StopCriteria None = new([]);

    private readonly HashSet<long> tokens = [.. TokenIds];

    /// <summary>Whether a row whose new ids are <paramref name="output"/> (the last just generated) stops here.</summary>
    public bool StopsAfter(IReadOnlyList<long> output)
    {
        if (output.Count > 0 && tokens.Contains(output[^1])) return true;
        if (Strings is not { Count: > 0 }) return false;
        if (Decode is null) throw new InvalidOperationException("stop strings need a Decode function");
        string text = Decode(output);
        return Strings.Any(s => s.Length > 0 && text.Contains(s, StringComparison.Ordinal));
    }
}
