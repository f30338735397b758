using System.Text.Json;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// The `pre_tokenizer` of a tokenizer.json, reduced to what byte-level BPE uses: Split(Regex or String,
/// behavior Isolated or Removed), ByteLevel (optionally splitting with the GPT-2 pattern, optionally adding
/// a prefix space), and Sequence of those. Cuts text into words; each word is then BPE-encoded on its own.
/// </summary>
public sealed class PreTokenizer
{
    private abstract record Step;
    private sealed record SplitStep(SplitPattern Pattern, bool RemoveMatches) : Step;
    private sealed record ByteLevelStep(bool AddPrefixSpace, SplitPattern? Pattern) : Step;

    private readonly Step[] _steps;

    private PreTokenizer(Step[] steps, bool hasByteLevel)
    {
        _steps = steps;
        HasByteLevel = hasByteLevel;
    }

    /// <summary>Whether a ByteLevel step maps words to the byte alphabet (required: only byte-level BPE is supported).</summary>
    public bool HasByteLevel { get; }

    public static PreTokenizer FromJson(JsonElement json) => FromJson(json, SplitPattern.DefaultMatchTimeout);

    /// <param name="regexTimeout">how long a Split regex may run on one text</param>
    public static PreTokenizer FromJson(JsonElement json, TimeSpan regexTimeout)
    {
        var steps = new List<Step>();
        if (json.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined)) Collect(json, steps, regexTimeout);
        return new PreTokenizer([.. steps], steps.Any(s => s is ByteLevelStep));
    }

    private static void Collect(JsonElement p, List<Step> steps, TimeSpan regexTimeout)
    {
        string type = p.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var inner in p.GetProperty("pretokenizers").EnumerateArray()) Collect(inner, steps, regexTimeout);
                break;
            case "Split":
            {
                var pat = p.GetProperty("pattern");
                string regex = pat.TryGetProperty("Regex", out var r) ? r.GetString()!
                    : System.Text.RegularExpressions.Regex.Escape(pat.GetProperty("String").GetString()!);
                string behavior = p.GetProperty("behavior").GetString() ?? "";
                bool invert = p.TryGetProperty("invert", out var inv) && inv.GetBoolean();
                if (invert || behavior is not ("Isolated" or "Removed"))
                    throw new NotSupportedException($"Split pre-tokenizer with behavior '{behavior}' invert={invert} is not supported (Isolated/Removed, invert=false)");
                steps.Add(new SplitStep(new SplitPattern(regex, regexTimeout), behavior == "Removed"));
                break;
            }
            case "ByteLevel":
            {
                bool prefix = p.TryGetProperty("add_prefix_space", out var a) && a.GetBoolean();
                bool useRegex = !p.TryGetProperty("use_regex", out var u) || u.GetBoolean();
                steps.Add(new ByteLevelStep(prefix, useRegex ? new SplitPattern(SplitPattern.Gpt2, regexTimeout) : null));
                break;
            }
            default:
                throw new NotSupportedException($"tokenizer.json pre-tokenizer '{type}' is not supported (Split, ByteLevel, Sequence)");
        }
    }

    /// <summary>Cuts <paramref name="text"/> into words (slices of it, or new strings where a prefix space was added).</summary>
    public void Split(string text, List<ReadOnlyMemory<char>> words)
    {
        if (_steps.Length == 1 && _steps[0] is SplitStep { RemoveMatches: false } or ByteLevelStep { AddPrefixSpace: false, Pattern: not null }
            || _steps.Length == 2 && _steps[0] is SplitStep { RemoveMatches: false } && _steps[1] is ByteLevelStep { AddPrefixSpace: false, Pattern: null })
        {
            // The Qwen2 / GPT-2 layouts: one regex, isolated matches (gaps kept too, as HF does).
            var pattern = _steps[0] is SplitStep s ? s.Pattern : ((ByteLevelStep)_steps[0]).Pattern!;
            if (pattern.IsQwen2) { Qwen2SplitScanner.Split(text.AsMemory(), words); return; }
            SplitIsolated(text.AsMemory(), pattern, removeMatches: false, words);
            return;
        }
        var current = new List<ReadOnlyMemory<char>> { text.AsMemory() };
        var next = new List<ReadOnlyMemory<char>>();
        foreach (var step in _steps)
        {
            next.Clear();
            foreach (var piece in current)
            {
                switch (step)
                {
                    case SplitStep split:
                        SplitIsolated(piece, split.Pattern, split.RemoveMatches, next);
                        break;
                    case ByteLevelStep bl:
                        var p = bl.AddPrefixSpace && !piece.Span.StartsWith(' ') ? (" " + piece.Span.ToString()).AsMemory() : piece;
                        if (bl.Pattern is null) next.Add(p);
                        else SplitIsolated(p, bl.Pattern, removeMatches: false, next);
                        break;
                }
            }
            (current, next) = (next, current);
        }
        words.AddRange(current);
    }

    [ThreadStatic] private static List<(int Start, int Length)>? t_matches;

    private static void SplitIsolated(ReadOnlyMemory<char> piece, SplitPattern pattern, bool removeMatches, List<ReadOnlyMemory<char>> output)
    {
        var matches = t_matches ??= new List<(int, int)>();
        matches.Clear();
        pattern.Matches(piece.Span, matches);
        int pos = 0;
        foreach (var (start, length) in matches)
        {
            if (start > pos) output.Add(piece[pos..start]);
            if (!removeMatches && length > 0) output.Add(piece.Slice(start, length));
            pos = start + length;
        }
        if (pos < piece.Length) output.Add(piece[pos..]);
    }
}
