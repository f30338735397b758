using System.Buffers;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// Finds added tokens in raw text, leftmost first and longest first at a position (HF's leftmost-longest
/// Aho-Corasick order), and cuts the text into plain segments and added-token ids. Immutable.
/// </summary>
public sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;
    private readonly SearchValues<char> _firstChars;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create([.. _byFirstChar.Keys]);
    }

    /// <summary>One piece of text: either a plain segment [Start, Start+Length) or an added token id.</summary>
    public readonly record struct Piece(int Start, int Length, int TokenId)
    {
        public bool IsToken => TokenId >= 0;
    }

    public void Split(string text, List<Piece> pieces)
    {
        int segmentStart = 0, at = 0;
        while (at < text.Length)
        {
            int found = _byFirstChar.Count == 0 ? -1 : text.AsSpan(at).IndexOfAny(_firstChars);
            if (found < 0) break;
            at += found;
            var token = LongestAt(text, at);
            if (token is null) { at++; continue; }
            int start = at, end = at + token.Content.Length;
            if (token.LStrip) while (start > segmentStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (token.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            if (start > segmentStart) pieces.Add(new Piece(segmentStart, start - segmentStart, -1));
            pieces.Add(new Piece(start, end - start, token.Id));
            segmentStart = at = end;
        }
        if (segmentStart < text.Length) pieces.Add(new Piece(segmentStart, text.Length - segmentStart, -1));
    }

    private AddedToken? LongestAt(string text, int at)
    {
        if (!_byFirstChar.TryGetValue(text[at], out var candidates)) return null;
        foreach (var t in candidates)
        {
            if (!text.AsSpan(at).StartsWith(t.Content, StringComparison.Ordinal)) continue;
            if (t.SingleWord && (at > 0 && IsWordChar(text[at - 1]) || at + t.Content.Length < text.Length && IsWordChar(text[at + t.Content.Length])))
                continue;
            return t;
        }
        return null;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
