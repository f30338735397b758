using System.Globalization;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// Parses an MLM-Filter rating: the model is asked to put an integer score 0-100 on its first line.
/// Anything else (empty, a word first, a fraction, out of range) is unparseable, and an unparseable
/// rating rejects the pair (it must be counted, never silently kept).
/// </summary>
public static class MlmFilterScoreParser
{
    public const string UnparseableReason = "unparseable_score";

    public static bool TryParse(string? output, out int score)
    {
        score = -1;
        if (output is null) return false;
        int newline = output.IndexOfAny(['\n', '\r']);
        var line = (newline >= 0 ? output[..newline] : output).Trim();
        // Allow a trailing period ("85."), nothing else after the number.
        if (line.EndsWith('.')) line = line[..^1];
        if (line.Length == 0 || line.Length > 3 || !line.All(char.IsAsciiDigit)) return false;
        int value = int.Parse(line, NumberStyles.None, CultureInfo.InvariantCulture);
        if (value > 100) return false;
        score = value;
        return true;
    }

    // ---- STAND-IN (branch h-filter) -------------------------------------------------------------------------------
    // The lead is rewriting this file with TryParse(string?, out long): the reference's rule (apply_filter.py's
    // above_threshold_decision: first line, strip ',' then ';', Python int()). `oqvl filter` calls that signature; this
    // minimal overload only keeps the branch building until the lead's version is merged, which replaces it.
    public static bool TryParse(string? output, out long score)
    {
        score = 0;
        if (output is null) return false;
        int newline = output.IndexOf('\n');
        var text = (newline >= 0 ? output[..newline] : output).Trim(',').Trim(';').Trim();
        bool negative = text.StartsWith('-');
        var digits = text.TrimStart('+', '-');
        if (text.Length - digits.Length > 1 || digits.Length == 0 || digits[0] == '_' || digits[^1] == '_' || digits.Contains("__")) return false;
        digits = digits.Replace("_", "");
        if (!digits.All(char.IsAsciiDigit) || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) return false;
        score = negative ? -value : value;
        return true;
    }
}
