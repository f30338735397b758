using System.Globalization;
using OpenQwen2VL.Curation.Scoring;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>Turns a score file's cell into a score.</summary>
public static class ScoreValue
{
    /// <summary>Missing text (null, or empty outside a reference column) is no score and no error.</summary>
    public static bool IsMissing(string fileColumn, string? text) =>
        text is null || (text.Length == 0 && !ScoreColumnNames.IsMlmFilterText(fileColumn));

    /// <summary>
    /// Text in a reference MLM-Filter column is the model's answer, read by its rule (<see cref="MlmFilterScoreParser"/>);
    /// any other text must be a number (invariant culture). False: not a score.
    /// </summary>
    public static bool TryParse(string fileColumn, string text, out float score)
    {
        score = float.NaN;
        if (ScoreColumnNames.IsMlmFilterText(fileColumn))
        {
            if (!MlmFilterScoreParser.TryParse(text, out long mlm)) return false;
            score = mlm;
            return true;
        }
        if (!double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || double.IsNaN(value)) return false;
        score = (float)value;
        return true;
    }
}
