namespace OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

/// <summary>
/// One row of a VLMEvalKit multiple-choice TSV as its prompt and scoring use it: the options present (letter to text,
/// in letter order), the hint if any, the answer letter, and the grouping columns of its report (category,
/// l2-category, split; empty when absent). <see cref="CircularGroup"/> is <c>index % 1e6</c> for circular benchmarks.
/// </summary>
public sealed record McQuestion(
    string Index, string Question, string? Hint, IReadOnlyList<KeyValuePair<string, string>> Options, string Answer,
    string Category, string L2Category, string Split, long? CircularGroup)
{
    /// <summary>The row that carries a circular group's index (<c>index == index % 1e6</c>): VLMEvalKit reports groups by it.</summary>
    public bool IsCircularMain => CircularGroup is long g && Index == g.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
