using OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>
/// Answer extraction against VLMEvalKit's rules (vlmeval/utils/matching_util.py at open-compass/VLMEvalKit e8e78f0):
/// can_infer(answer, choices) = can_infer_option(...) or can_infer_text(...). Each expected letter below is what those
/// functions return for the case, worked out from their code (noted per case).
/// </summary>
public class OptionMatcherTests
{
    private static readonly KeyValuePair<string, string>[] Abcd =
        [new("A", "a red apple"), new("B", "a yellow banana"), new("C", "a green pear"), new("D", "a purple plum")];

    [Theory]
    // can_infer_option: punctuation .()[],:;!*#{} becomes spaces, then exactly one option letter must stand alone
    // among the words, at position > len(words) - 5.
    [InlineData("B", "B", OptionMatchRule.Letter)]
    [InlineData("(B)", "B", OptionMatchRule.Letter)]
    [InlineData("B.", "B", OptionMatchRule.Letter)]
    [InlineData("B: a yellow banana", "B", OptionMatchRule.Letter)]
    [InlineData("[C]", "C", OptionMatchRule.Letter)]
    [InlineData("**D**", "D", OptionMatchRule.Letter)]
    [InlineData("The answer is B", "B", OptionMatchRule.Letter)]          // words: The answer is B; B at 3 > 4 - 5
    [InlineData("Option C is right.", "C", OptionMatchRule.Letter)]
    // _VERBOSE_ANSWER_RE, reached when the lone letter is too early among many words.
    [InlineData("The correct answer is **B**. Here's why: the fruit in the picture is long, curved and yellow", "B", OptionMatchRule.AnswerIs)]
    // ... which is case-insensitive and has no word boundary: "answer is b" inside "answer is because" reads B.
    [InlineData("I would say the answer is because it looks ripe and sweet to me today", "B", OptionMatchRule.AnswerIs)]
    // Refusals and a lone Z (with no option letter) are "Z".
    [InlineData("Sorry, I can't help with images of people yet.", "Z", OptionMatchRule.Refusal)]
    [InlineData("Cannot determine the answer", "Z", OptionMatchRule.Refusal)]
    [InlineData("Z", "Z", OptionMatchRule.Refusal)]
    // can_infer_text: lower-cased, exactly one option text as a substring, answer at most twice the options' length.
    [InlineData("It is a Yellow Banana.", "B", OptionMatchRule.OptionText)]
    [InlineData("green pear", null, OptionMatchRule.Unmatched)]              // "a green pear" is not inside "green pear"
    // Two letters: count == 2, so no letter; no option text either.
    [InlineData("A or B", null, OptionMatchRule.Unmatched)]
    // "A" as an article early in a long sentence: count == 1 but at 0, not > 10 - 5; text: no option inside.
    [InlineData("A fruit is shown on the table next to the knife", null, OptionMatchRule.Unmatched)]
    // Lower-case letters are not options; E is not an option of this row.
    [InlineData("b", null, OptionMatchRule.Unmatched)]
    [InlineData("E", null, OptionMatchRule.Unmatched)]
    [InlineData("", null, OptionMatchRule.Unmatched)]
    public void ReadsTheOptionAsVlmEvalKitDoes(string answer, string? letter, OptionMatchRule rule)
    {
        var m = OptionMatcher.Match(answer, Abcd);
        Assert.Equal((letter, rule), (m.Letter, m.Rule));
    }

    [Fact]
    public void TextMatchingNeedsExactlyOneOptionAndAShortAnswer()
    {
        KeyValuePair<string, string>[] options = [new("A", "cat"), new("B", "black cat")];
        // "black cat" contains both option texts: ambiguous.
        Assert.Null(OptionMatcher.Match("black cat", options).Letter);
        Assert.Equal("A", OptionMatcher.Match("a cat", options).Letter);
        // len(answer) > 2 * (3 + 9) = 24 characters: can_infer_text gives up.
        Assert.Equal("A", OptionMatcher.Match("it is a cat on the sofa!", options).Letter); // 24 characters
        Assert.Null(OptionMatcher.Match("it is a cat on the sofa!!", options).Letter);     // 25 characters
    }

    [Fact]
    public void AnApiFailureIsNotReadAsALetterButStillAsText()
    {
        // can_infer_option returns False on this message; can_infer then tries can_infer_text.
        KeyValuePair<string, string>[] options = [new("A", "Failed to obtain answer via API"), new("B", "no")];
        var m = OptionMatcher.Match("Failed to obtain answer via API A", options);
        Assert.Equal(("A", OptionMatchRule.OptionText), (m.Letter, m.Rule));
    }
}
