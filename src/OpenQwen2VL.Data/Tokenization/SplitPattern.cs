using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// A pre-tokenizer regex with the code-point semantics of HF tokenizers (Oniguruma), run on .NET's Regex.
/// .NET matches UTF-16 code units, so an astral character (emoji, CJK extension B, math letters) is two
/// surrogates of category Cs: `\p{L}` misses astral letters and `[^...]?` takes half an emoji. For text
/// with surrogates we run the regex on a proxy string with one BMP stand-in per code point of the same
/// Unicode category (non-ASCII, so it cannot hit a literal of the pattern) and map the matches back.
/// The Qwen2 pattern itself runs on <see cref="Qwen2SplitScanner"/>, which returns the same matches faster.
/// </summary>
public sealed class SplitPattern
{
    /// <summary>The Qwen2 split regex (tokenizer.json of Qwen2/Qwen2.5).</summary>
    public const string Qwen2 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The GPT-2 pattern that ByteLevel(use_regex=true) splits with.</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly char[] s_categoryStandIn = BuildStandIns();

    /// <summary>
    /// How long one match pass over one text may run. The Qwen2 and GPT-2 patterns take microseconds on a caption and
    /// about a millisecond on 100k characters; a pattern from a downloaded tokenizer.json may backtrack
    /// catastrophically (<c>(a+)+$</c>), which without a limit hangs the job.
    /// </summary>
    public static readonly TimeSpan DefaultMatchTimeout = TimeSpan.FromSeconds(2);

    private readonly Regex _regex;

    public SplitPattern(string pattern) : this(pattern, DefaultMatchTimeout) { }

    public SplitPattern(string pattern, TimeSpan matchTimeout)
    {
        Pattern = pattern;
        IsQwen2 = pattern == Qwen2;
        try
        {
            _regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, matchTimeout);
        }
        catch (ArgumentException e)
        {
            throw new NotSupportedException($"pre-tokenizer regex is not valid .NET syntax: {pattern}", e);
        }
    }

    public string Pattern { get; }

    /// <summary>Whether this is the Qwen2 pattern, which <see cref="Qwen2SplitScanner"/> runs.</summary>
    internal bool IsQwen2 { get; }

    /// <summary>Appends the (start, length) of each match in <paramref name="text"/>, in UTF-16 units of the original text.</summary>
    /// <exception cref="PreTokenizerTimeoutException">the regex ran longer than its match timeout on this text</exception>
    public void Matches(ReadOnlySpan<char> text, List<(int Start, int Length)> matches)
    {
        if (IsQwen2) Qwen2SplitScanner.Matches(text, matches);
        else RegexMatches(text, matches);
    }

    /// <summary>The matches of the regex itself, also for the Qwen2 pattern (the scanner's reference).</summary>
    internal void RegexMatches(ReadOnlySpan<char> text, List<(int Start, int Length)> matches)
    {
        try
        {
            MatchesUnchecked(text, matches);
        }
        catch (RegexMatchTimeoutException)
        {
            throw new PreTokenizerTimeoutException(Pattern, _regex.MatchTimeout, text.Length);
        }
    }

    private void MatchesUnchecked(ReadOnlySpan<char> text, List<(int Start, int Length)> matches)
    {
        if (text.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            foreach (var m in _regex.EnumerateMatches(text)) matches.Add((m.Index, m.Length));
            return;
        }
        // One proxy char per code point; offsets[k] = UTF-16 index in text of code point k (offsets[^1] = text.Length).
        var proxy = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            offsets.Add(i);
            if (Rune.DecodeFromUtf16(text[i..], out var rune, out int used) == System.Buffers.OperationStatus.Done && rune.IsBmp == false)
                proxy.Append(s_categoryStandIn[(int)Rune.GetUnicodeCategory(rune)]);
            else
                proxy.Append(text[i]);  // BMP char, or a lone surrogate kept as is
            i += Math.Max(used, 1);
        }
        offsets.Add(text.Length);
        foreach (var m in _regex.EnumerateMatches(proxy.ToString()))
        {
            int start = offsets[m.Index];
            matches.Add((start, offsets[m.Index + m.Length] - start));
        }
    }

    // For each general category, the first non-ASCII, non-whitespace BMP character of that category.
    private static char[] BuildStandIns()
    {
        var standIn = new char[32];
        for (int c = 0xA1; c <= 0xFFFF; c++)
        {
            char ch = (char)c;
            if (char.IsSurrogate(ch) || char.IsWhiteSpace(ch)) continue;
            int cat = (int)CharUnicodeInfo.GetUnicodeCategory(ch);
            if (standIn[cat] == '\0') standIn[cat] = ch;
        }
        for (int k = 0; k < standIn.Length; k++)
            if (standIn[k] == '\0') standIn[k] = '\uFFFD';
        return standIn;
    }
}
