using System.Text;
using System.Text.RegularExpressions;

namespace OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

/// <summary>Which rule read an option out of an answer (or that none did).</summary>
public enum OptionMatchRule
{
    /// <summary>No rule matched: the answer is scored wrong and counted as unmatched.</summary>
    Unmatched,
    /// <summary>One option letter stands alone among the answer's last words ("B", "(B)", "B.", "B: ...").</summary>
    Letter,
    /// <summary>A refusal, or a lone "Z" with no option letter: VLMEvalKit's "Z" (always wrong).</summary>
    Refusal,
    /// <summary>"The (correct) answer is B".</summary>
    AnswerIs,
    /// <summary>Exactly one option's text occurs in the answer.</summary>
    OptionText,
}

/// <summary>An option letter read from an answer, or none (<see cref="Letter"/> null, rule <see cref="OptionMatchRule.Unmatched"/>).</summary>
public readonly record struct OptionMatch(string? Letter, OptionMatchRule Rule)
{
    public static readonly OptionMatch None = new(null, OptionMatchRule.Unmatched);
}

/// <summary>
/// VLMEvalKit's rule-based answer extraction for multiple choice, as its exact-matching evaluation applies it
/// (vlmeval/utils/matching_util.py: <c>can_infer</c> = <c>can_infer_option</c>, else <c>can_infer_text</c>; no LLM judge).
/// </summary>
public static class OptionMatcher
{
    /// <summary>can_infer_option's refusals, answered "Z".</summary>
    private static readonly string[] Refusals =
    [
        "Sorry, I can't help with images of people yet.", "I can't process this file.",
        "I'm sorry, but without the image provided", "Cannot determine the answer",
    ];

    /// <summary>can_infer_option's <c>_VERBOSE_ANSWER_RE</c>; note it is case-insensitive and has no word boundary after the letter.</summary>
    private static readonly Regex AnswerIs = new(@"(?:correct\s+)?answer\s+is\s+\**([ABCD])\**", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <param name="choices">the row's options in letter order (A, B, ...), letter to text</param>
    public static OptionMatch Match(string answer, IReadOnlyList<KeyValuePair<string, string>> choices)
    {
        var option = MatchOption(answer, choices);
        return option.Rule != OptionMatchRule.Unmatched ? option : MatchText(answer, choices);
    }

    /// <summary>can_infer_option.</summary>
    public static OptionMatch MatchOption(string answer, IReadOnlyList<KeyValuePair<string, string>> choices)
    {
        if (answer.Contains("Failed to obtain answer via API", StringComparison.Ordinal)) return OptionMatch.None;
        if (Refusals.Any(r => answer.Contains(r, StringComparison.Ordinal))) return new("Z", OptionMatchRule.Refusal);

        var splits = PythonSplit(ReplaceAll(answer, ".()[],:;!*#{}"));
        int count = choices.Count(c => splits.Contains(c.Key));
        if (count == 1)
        {
            foreach (var (letter, _) in choices)
            {
                int at = splits.IndexOf(letter);
                // Only when the letter is among the last words: "A" early in a sentence is more likely an article.
                if (at >= 0 && at > splits.Count - 5) return new(letter, OptionMatchRule.Letter);
            }
        }
        else if (count == 0 && splits.Contains("Z")) return new("Z", OptionMatchRule.Refusal);

        var m = AnswerIs.Match(answer);
        if (m.Success)
        {
            string letter = m.Groups[1].Value.ToUpperInvariant();
            if (choices.Any(c => c.Key == letter)) return new(letter, OptionMatchRule.AnswerIs);
        }
        return OptionMatch.None;
    }

    /// <summary>can_infer_text: lower-cased, not much longer than the options together, and exactly one option's text inside.</summary>
    public static OptionMatch MatchText(string answer, IReadOnlyList<KeyValuePair<string, string>> choices)
    {
        string lower = answer.ToLowerInvariant();
        if (CodePoints(lower) > 2 * choices.Sum(c => CodePoints(c.Value))) return OptionMatch.None;
        var candidates = choices.Where(c => lower.Contains(c.Value.ToLowerInvariant(), StringComparison.Ordinal)).ToArray();
        return candidates.Length == 1 ? new(candidates[0].Key, OptionMatchRule.OptionText) : OptionMatch.None;
    }

    private static string ReplaceAll(string s, string chars)
    {
        var sb = new StringBuilder(s);
        for (int i = 0; i < sb.Length; i++) if (chars.Contains(sb[i])) sb[i] = ' ';
        return sb.ToString();
    }

    /// <summary>Python's <c>str.split()</c>: runs of Unicode whitespace (str.isspace, which also counts U+001C-U+001F) separate words.</summary>
    private static List<string> PythonSplit(string s)
    {
        var words = new List<string>();
        int start = -1;
        for (int i = 0; i <= s.Length; i++)
        {
            bool space = i == s.Length || char.IsWhiteSpace(s[i]) || s[i] is >= '\x1c' and <= '\x1f';
            if (space) { if (start >= 0) { words.Add(s[start..i]); start = -1; } }
            else if (start < 0) start = i;
        }
        return words;
    }

    /// <summary>Python's <c>len</c> counts code points, not UTF-16 units.</summary>
    private static int CodePoints(string s) => s.EnumerateRunes().Count();
}
