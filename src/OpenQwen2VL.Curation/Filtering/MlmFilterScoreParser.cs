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
}
