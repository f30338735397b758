using System.Globalization;
using System.Text;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// The Qwen2 split regex (<see cref="SplitPattern.Qwen2"/>) as a one-pass scanner, returning exactly the matches that
/// <see cref="SplitPattern"/>'s .NET Regex returns, with its code-point semantics (an astral character is one
/// character of its Unicode category; a lone surrogate is one character of category Cs):
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>.
/// Every position starts a match (any character fits one alternative), so the matches tile the text.
/// </summary>
/// <remarks>
/// Hand-written because the split was a large part of the cached encode's time, and no library runs this pattern
/// faster: on the tokenizer benchmark's long-tail texts (Qwen's real vocabulary, 10k texts, 423k words, 2-core
/// machine at load 7.5-8) .NET's compiled Regex split 28.9-29.7 M tokens/s and this scanner 107-159 M (3.6-5.5x in
/// two runs), with the same matches (Microsoft.ML.Tokenizers runs the same .NET Regex, per UTF-16 unit). Facts this
/// relies on (checked against
/// the regex by Qwen2SplitScannerTests over all BMP characters and random hostile texts): .NET's IgnoreCase with
/// CultureInvariant equates the contraction letters only with their ASCII other case (not U+017F 'ſ', not U+212A
/// Kelvin); `\s` is U+0009-U+000D, U+0085 and categories Zs, Zl, Zp (char.IsWhiteSpace); `\p{L}` and `\p{N}` are
/// the categories L* and N*.
/// </remarks>
internal static class Qwen2SplitScanner
{
    private const byte Other = 0, Letter = 1, Number = 2, Space = 3, LineBreak = 4, Surrogate = 5;

    /// <summary>Class of each BMP character: letter, number, whitespace other than CR/LF, CR/LF, surrogate, other.</summary>
    private static readonly byte[] s_bmpClass = BuildBmpClasses();

    /// <summary>Appends the (start, length) of each match, as <see cref="SplitPattern.Matches"/> does.</summary>
    public static void Matches(ReadOnlySpan<char> text, List<(int Start, int Length)> matches)
    {
        int n = text.Length;
        int i = 0;
        while (i < n)
        {
            int end = MatchEnd(text, i);
            matches.Add((i, end - i));
            i = end;
        }
    }

    /// <summary>Appends each match as a slice of <paramref name="text"/> (the matches tile it: no gaps to keep).</summary>
    public static void Split(ReadOnlyMemory<char> text, List<ReadOnlyMemory<char>> words)
    {
        var span = text.Span;
        int i = 0;
        while (i < span.Length)
        {
            int end = MatchEnd(span, i);
            words.Add(text[i..end]);
            i = end;
        }
    }

    /// <summary>End of the match that starts at <paramref name="i"/>: the first alternative that matches there.</summary>
    private static int MatchEnd(ReadOnlySpan<char> text, int i)
    {
        int n = text.Length;
        char c = text[i];
        if (c == '\'' && ContractionLength(text, i) is int contraction and > 0) return i + contraction;
        byte cls = ClassAt(text, i, out int width);
        int next = i + width;
        switch (cls)
        {
            case Letter:
                return EndOfLetters(text, next);
            case Number:
                return next;
            case Other:
                // [^\r\n\p{L}\p{N}]?\p{L}+ with the optional character taken, else  ?[^\s\p{L}\p{N}]+[\r\n]* without the space.
                if (next < n && ClassAt(text, next, out _) == Letter) return EndOfLetters(text, next);
                return EndOfLineBreaks(text, EndOfOthers(text, next));
            default:  // whitespace (all BMP)
                if (cls == Space && next < n)
                {
                    byte after = ClassAt(text, next, out _);
                    if (after == Letter) return EndOfLetters(text, next);
                    if (c == ' ' && after == Other) return EndOfLineBreaks(text, EndOfOthers(text, next));
                }
                int runEnd = next;
                int lastLineBreak = cls == LineBreak ? i : -1;
                while (runEnd < n && text[runEnd] is var w && (s_bmpClass[w] is Space or LineBreak))
                {
                    if (s_bmpClass[w] == LineBreak) lastLineBreak = runEnd;
                    runEnd++;
                }
                // \s*[\r\n]+ backtracks to the run's last CR/LF; \s+(?!\S) gives back the last whitespace before a non-space.
                if (lastLineBreak >= 0) return lastLineBreak + 1;
                if (runEnd == n || runEnd - 1 == i) return runEnd;
                return runEnd - 1;
        }
    }

    /// <summary>Length of <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)</c> at <paramref name="i"/> (an apostrophe), or 0.</summary>
    private static int ContractionLength(ReadOnlySpan<char> text, int i)
    {
        if (i + 1 >= text.Length) return 0;
        char a = (char)(text[i + 1] | 0x20);  // ASCII lower case; a non-letter cannot become one of the letters below
        if (text[i + 1] > 'z') return 0;
        switch (a)
        {
            case 's' or 't' or 'm' or 'd': return 2;
            case 'r' or 'v' when i + 2 < text.Length && (text[i + 2] | 0x20) == 'e' && text[i + 2] <= 'z': return 3;
            case 'l' when i + 2 < text.Length && (text[i + 2] | 0x20) == 'l' && text[i + 2] <= 'z': return 3;
            default: return 0;
        }
    }

    private static int EndOfLetters(ReadOnlySpan<char> text, int i)
    {
        while (i < text.Length)
        {
            char c = text[i];
            byte cls = s_bmpClass[c];
            if (cls == Letter) { i++; continue; }
            if (cls != Surrogate || ClassAt(text, i, out int width) != Letter) break;
            i += width;
        }
        return i;
    }

    /// <summary>End of a run of characters that are neither whitespace, letters nor numbers.</summary>
    private static int EndOfOthers(ReadOnlySpan<char> text, int i)
    {
        while (i < text.Length && ClassAt(text, i, out int width) == Other) i += width;
        return i;
    }

    private static int EndOfLineBreaks(ReadOnlySpan<char> text, int i)
    {
        while (i < text.Length && text[i] is '\r' or '\n') i++;
        return i;
    }

    /// <summary>Class of the code point at <paramref name="i"/>; a surrogate pair is one code point, a lone surrogate is Other.</summary>
    private static byte ClassAt(ReadOnlySpan<char> text, int i, out int width)
    {
        char c = text[i];
        byte cls = s_bmpClass[c];
        width = 1;
        if (cls != Surrogate) return cls;
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            width = 2;
            return ClassOf(Rune.GetUnicodeCategory(new Rune(c, text[i + 1])));
        }
        return Other;
    }

    private static byte ClassOf(UnicodeCategory category) => category switch
    {
        <= UnicodeCategory.OtherLetter => Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
        _ => Other,
    };

    private static byte[] BuildBmpClasses()
    {
        var classes = new byte[0x10000];
        for (int c = 0; c < classes.Length; c++)
        {
            char ch = (char)c;
            classes[c] = ch is '\r' or '\n' ? LineBreak
                : char.IsSurrogate(ch) ? Surrogate
                : char.IsWhiteSpace(ch) ? Space
                : ClassOf(CharUnicodeInfo.GetUnicodeCategory(ch));
        }
        return classes;
    }
}
