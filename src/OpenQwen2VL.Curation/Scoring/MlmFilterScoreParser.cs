using System.Globalization;
using System.Text;
using OpenQwen2VL.Data.Text;

namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// Reads an MLM-Filter rating the way the reference filter does (Open-Qwen2VL
/// <c>data_filtering/baselines/apply_filter.py</c>, <c>above_threshold_decision</c>), so that a threshold keeps
/// exactly the pairs the reference keeps:
/// <list type="number">
/// <item>the text before the first <c>\n</c> (only <c>\n</c>: a <c>\r</c> stays, and <c>int()</c> strips it);</item>
/// <item><c>.strip(",")</c>, then <c>.strip(";")</c> (in that order, so <c>";,85"</c> fails);</item>
/// <item>Python's <c>int()</c>: surrounding whitespace, an optional ASCII sign, decimal digits of any script
/// (full-width, Arabic-Indic, mathematical…), single <c>_</c> between digits, leading zeros allowed.</item>
/// </list>
/// There is no range check: <c>-5</c> is -5 and <c>1000</c> is 1000, as in the reference (which then compares with
/// the threshold). Values beyond a long saturate, which keeps every comparison with a real threshold the same.
/// Anything else is unparseable: the caller keeps the raw text, scores the pair as missing and counts it.
/// </summary>
public static class MlmFilterScoreParser
{
    public const string UnparseableReason = "unparseable_score";

    public static bool TryParse(string? output, out long score)
    {
        score = 0;
        if (output is null) return false;
        int newline = output.IndexOf('\n');
        var line = (newline >= 0 ? output[..newline] : output).Trim(',').Trim(';');
        return TryPythonInt(ToPythonAscii(line), out score);
    }

    /// <summary>
    /// CPython's first step in <c>int(str)</c> (<c>_PyUnicode_TransformDecimalAndSpaceToASCII</c>): a non-ASCII
    /// space becomes ' ', a non-ASCII decimal digit its ASCII digit, any other non-ASCII character '?' (which then
    /// fails). ASCII characters stay, so ASCII's \x1c-\x1f, spaces to <c>str.isspace()</c>, are not spaces here.
    /// </summary>
    private static string ToPythonAscii(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.IsAscii) sb.Append((char)rune.Value);
            else if (rune.IsBmp && PythonString.IsSpace((char)rune.Value)) sb.Append(' ');   // str.isspace(); no space lies outside the BMP
            else if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.DecimalDigitNumber)
                sb.Append((char)('0' + (int)Rune.GetNumericValue(rune)));
            else sb.Append('?');
        }
        return sb.ToString();
    }

    private static bool IsAsciiSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    /// <summary>CPython's <c>PyLong_FromString(s, base=10)</c> on the ASCII-transformed text.</summary>
    private static bool TryPythonInt(string s, out long value)
    {
        value = 0;
        int i = 0, end = s.Length;
        while (i < end && IsAsciiSpace(s[i])) i++;
        while (end > i && IsAsciiSpace(s[end - 1])) end--;
        bool negative = false;
        if (i < end && (s[i] == '+' || s[i] == '-')) { negative = s[i] == '-'; i++; }
        if (i >= end || !char.IsAsciiDigit(s[i])) return false;
        decimal magnitude = 0;
        bool saturated = false;
        for (bool lastWasDigit = false; i < end; i++)
        {
            char c = s[i];
            if (c == '_')
            {
                // One underscore between two digits only.
                if (!lastWasDigit || i + 1 >= end || !char.IsAsciiDigit(s[i + 1])) return false;
                lastWasDigit = false;
                continue;
            }
            if (!char.IsAsciiDigit(c)) return false;
            lastWasDigit = true;
            if (!saturated)
            {
                magnitude = magnitude * 10 + (c - '0');
                saturated = magnitude > long.MaxValue;
            }
        }
        value = saturated ? (negative ? long.MinValue : long.MaxValue) : (long)(negative ? -magnitude : magnitude);
        return true;
    }
}
