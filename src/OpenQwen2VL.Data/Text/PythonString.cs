using System.Globalization;
using System.Text;

namespace OpenQwen2VL.Data.Text;

/// <summary>
/// Python 3's string operations where .NET differs, for byte parity with reference code: <c>str.isspace()</c> and
/// <c>str.strip()</c> also count U+001C..U+001F; <c>str.lower()</c> uses Unicode's full case mapping (İ becomes two
/// characters) and the final-sigma rule, where .NET's invariant lower-casing maps one character to one.
/// </summary>
public static class PythonString
{
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    /// <summary><c>str.strip()</c> without arguments.</summary>
    public static string Strip(string s) => LStrip(RStrip(s));

    /// <summary><c>str.lstrip()</c> without arguments.</summary>
    public static string LStrip(string s)
    {
        int start = 0;
        while (start < s.Length && IsSpace(s[start])) start++;
        return s[start..];
    }

    /// <summary><c>str.rstrip()</c> without arguments.</summary>
    public static string RStrip(string s)
    {
        int end = s.Length;
        while (end > 0 && IsSpace(s[end - 1])) end--;
        return s[..end];
    }

    /// <summary><c>re.sub(r"\s+", " ", s)</c> on a str pattern (whose <c>\s</c> is <see cref="IsSpace"/>).</summary>
    public static string CollapseSpaces(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool inRun = false;
        foreach (char c in s)
        {
            if (IsSpace(c)) { if (!inRun) sb.Append(' '); inRun = true; }
            else { sb.Append(c); inRun = false; }
        }
        return sb.ToString();
    }

    /// <summary><c>str.lower()</c>.</summary>
    public static string Lower(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\u0130') sb.Append("i\u0307");                 // SpecialCasing: İ -> i + combining dot above
            else if (c == '\u03A3') sb.Append(IsFinalSigma(s, i) ? '\u03C2' : '\u03C3');
            else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                var lower = Rune.ToLowerInvariant(new Rune(c, s[i + 1]));
                sb.Append(lower.ToString());
                i++;
            }
            else sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    // Unicode's Final_Sigma context, as CPython applies it: a cased letter before (skipping case-ignorable characters)
    // and none after.
    private static bool IsFinalSigma(string s, int at)
    {
        int j = at - 1;
        while (j >= 0 && IsCaseIgnorable(s[j])) j--;
        if (j < 0 || !IsCased(s[j])) return false;
        j = at + 1;
        while (j < s.Length && IsCaseIgnorable(s[j])) j++;
        return j >= s.Length || !IsCased(s[j]);
    }

    private static bool IsCased(char c) => char.IsUpper(c) || char.IsLower(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;

    private static bool IsCaseIgnorable(char c) => c is '\'' or '.' or ':' or '^' or '`' or '\u00AD' or '\u2019' ||
        CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
}
