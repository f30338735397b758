using System.Globalization;

namespace OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

/// <summary>
/// How a TSV cell reaches VLMEvalKit's prompts after <c>pd.read_csv</c> (pandas 2 defaults): a cell equal to one of
/// pandas' default NA strings is missing (<c>pd.isna</c>), so an option "None" or "NA" is not offered; and a column
/// whose every present cell is a number is parsed as numbers, then printed by Python: an integer column with a
/// missing cell becomes float, so option "3" is shown as "3.0".
/// </summary>
public static class PandasCells
{
    /// <summary>pandas' STR_NA_VALUES (pandas/_libs/parsers.pyx, 2.x), matched against the whole cell.</summary>
    public static readonly IReadOnlySet<string> NaValues = new HashSet<string>(StringComparer.Ordinal)
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
        "NULL", "NaN", "None", "n/a", "nan", "null",
    };

    public static bool IsNa(string cell) => NaValues.Contains(cell);

    /// <summary>
    /// The cells of one column as Python's <c>str()</c> prints them after pandas' type inference; null for a missing
    /// cell. Integers (no missing cell) print as integers, numbers as Python floats, anything else as written.
    /// </summary>
    public static string?[] Column(IReadOnlyList<string> cells)
    {
        var present = cells.Where(c => !IsNa(c)).ToArray();
        bool allInt = present.Length > 0 && present.All(c => long.TryParse(c, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _));
        bool allNumber = present.Length > 0 && present.All(IsNumber);
        bool anyNa = present.Length < cells.Count;
        return cells.Select(c => IsNa(c) ? null
            : allInt && !anyNa ? long.Parse(c, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)
            : allNumber ? PythonFloat.Repr(double.Parse(c, NumberStyles.Float, CultureInfo.InvariantCulture))
            : c).ToArray();
    }

    private static bool IsNumber(string c) =>
        c.Length > 0 && !char.IsWhiteSpace(c[0]) && !char.IsWhiteSpace(c[^1]) && (char.IsDigit(c[0]) || c[0] is '-' or '+' or '.')
        && double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v);
}
