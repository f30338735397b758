namespace OpenQwen2VL.Cli.Serving;

/// <summary>
/// The text of a growing list of token ids, handed out in pieces whose concatenation is the final text: a piece is
/// held back while the decoding ends in an incomplete UTF-8 sequence (U+FFFD) or could still be the start of a stop
/// string, and the text is cut before the first stop string (OpenAI's <c>stop</c> leaves it out).
/// </summary>
public sealed class StreamingText(Func<IReadOnlyList<long>, string> decode, IReadOnlyList<string> stops)
{
    private readonly List<long> ids = [];
    private int emitted;

    /// <summary>Whether a stop string has appeared (the text ends before it).</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds one token; returns the text that can be shown now (maybe empty).</summary>
    public string Add(long id)
    {
        ids.Add(id);
        return Next(final: false);
    }

    /// <summary>The rest of the text once no token follows.</summary>
    public string Finish() => Next(final: true);

    /// <summary>The whole text so far (cut at a stop string).</summary>
    public string Text => Cut(decode(ids)).Text;

    private string Next(bool final)
    {
        var (text, stopped) = Cut(decode(ids));
        Stopped |= stopped;
        int safe = text.Length;
        if (!final && !stopped)
        {
            if (safe > 0 && text[safe - 1] == '\uFFFD') safe--;
            // Keep back the longest tail that a stop string starts with.
            foreach (var s in stops)
                for (int k = Math.Min(s.Length - 1, safe); k > 0; k--)
                    if (text.AsSpan(safe - k, k).SequenceEqual(s.AsSpan(0, k))) { safe -= k; break; }
        }
        if (safe <= emitted) return "";
        var piece = text[emitted..safe];
        emitted = safe;
        return piece;
    }

    private (string Text, bool Stopped) Cut(string text)
    {
        int cut = -1;
        foreach (var s in stops)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        return cut < 0 ? (text, false) : (text[..cut], true);
    }
}
