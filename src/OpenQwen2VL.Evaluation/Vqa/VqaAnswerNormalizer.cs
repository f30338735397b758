using System.Text;
using System.Text.RegularExpressions;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// The answer normalisation of the official VQAv2 evaluator (vqaEval.py), rewritten from its definition:
/// punctuation is removed (or turned into a space), periods not followed by a digit are dropped, the text is
/// lower-cased and split on whitespace, number words become digits ("none"/"zero" → 0), articles are
/// dropped and apostrophe-less contractions get their apostrophe back ("dont" → "don't").
/// No library does this; it must match the official evaluator token for token.
/// </summary>
public static partial class VqaAnswerNormalizer
{
    private static readonly char[] Punctuation = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];

    /// <summary>re.UNICODE (32), passed positionally as the count of <c>periodStrip.sub</c>.</summary>
    private const int OfficialPeriodCount = 32;

    private static readonly HashSet<string> Articles = ["a", "an", "the"];

    /// <summary>The official "manual map": number words to digits.</summary>
    private static readonly Dictionary<string, string> NumberWords = new(StringComparer.Ordinal)
    {
        ["none"] = "0", ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4",
        ["five"] = "5", ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10",
    };

    /// <summary>
    /// The official contraction table. Keys with capitals ("Im", "Ive") can never match after lower-casing, and
    /// "somebody'd" maps to "somebodyd"; both are quirks of the official table, kept so scores agree with it.
    /// </summary>
    private static readonly Dictionary<string, string> Contractions = new(StringComparer.Ordinal)
    {
        ["aint"] = "ain't", ["arent"] = "aren't", ["cant"] = "can't", ["couldve"] = "could've", ["couldnt"] = "couldn't",
        ["couldn'tve"] = "couldn't've", ["couldnt've"] = "couldn't've", ["didnt"] = "didn't", ["doesnt"] = "doesn't",
        ["dont"] = "don't", ["hadnt"] = "hadn't", ["hadnt've"] = "hadn't've", ["hadn'tve"] = "hadn't've", ["hasnt"] = "hasn't",
        ["havent"] = "haven't", ["hed"] = "he'd", ["hed've"] = "he'd've", ["he'dve"] = "he'd've", ["hes"] = "he's",
        ["howd"] = "how'd", ["howll"] = "how'll", ["hows"] = "how's", ["Id've"] = "I'd've", ["I'dve"] = "I'd've",
        ["Im"] = "I'm", ["Ive"] = "I've", ["isnt"] = "isn't", ["itd"] = "it'd", ["itd've"] = "it'd've", ["it'dve"] = "it'd've",
        ["itll"] = "it'll", ["let's"] = "let's", ["maam"] = "ma'am", ["mightnt"] = "mightn't", ["mightnt've"] = "mightn't've",
        ["mightn'tve"] = "mightn't've", ["mightve"] = "might've", ["mustnt"] = "mustn't", ["mustve"] = "must've",
        ["neednt"] = "needn't", ["notve"] = "not've", ["oclock"] = "o'clock", ["oughtnt"] = "oughtn't",
        ["ow's'at"] = "'ow's'at", ["'ows'at"] = "'ow's'at", ["'ow'sat"] = "'ow's'at", ["shant"] = "shan't",
        ["shed've"] = "she'd've", ["she'dve"] = "she'd've", ["she's"] = "she's", ["shouldve"] = "should've",
        ["shouldnt"] = "shouldn't", ["shouldnt've"] = "shouldn't've", ["shouldn'tve"] = "shouldn't've",
        ["somebody'd"] = "somebodyd", ["somebodyd've"] = "somebody'd've", ["somebody'dve"] = "somebody'd've",
        ["somebodyll"] = "somebody'll", ["somebodys"] = "somebody's", ["someoned"] = "someone'd",
        ["someoned've"] = "someone'd've", ["someone'dve"] = "someone'd've", ["someonell"] = "someone'll",
        ["someones"] = "someone's", ["somethingd"] = "something'd", ["somethingd've"] = "something'd've",
        ["something'dve"] = "something'd've", ["somethingll"] = "something'll", ["thats"] = "that's",
        ["thered"] = "there'd", ["thered've"] = "there'd've", ["there'dve"] = "there'd've", ["therere"] = "there're",
        ["theres"] = "there's", ["theyd"] = "they'd", ["theyd've"] = "they'd've", ["they'dve"] = "they'd've",
        ["theyll"] = "they'll", ["theyre"] = "they're", ["theyve"] = "they've", ["twas"] = "'twas", ["wasnt"] = "wasn't",
        ["wed've"] = "we'd've", ["we'dve"] = "we'd've", ["weve"] = "we've", ["werent"] = "weren't", ["whatll"] = "what'll",
        ["whatre"] = "what're", ["whats"] = "what's", ["whatve"] = "what've", ["whens"] = "when's", ["whered"] = "where'd",
        ["wheres"] = "where's", ["whereve"] = "where've", ["whod"] = "who'd", ["whod've"] = "who'd've",
        ["who'dve"] = "who'd've", ["wholl"] = "who'll", ["whos"] = "who's", ["whove"] = "who've", ["whyll"] = "why'll",
        ["whyre"] = "why're", ["whys"] = "why's", ["wont"] = "won't", ["wouldve"] = "would've", ["wouldnt"] = "wouldn't",
        ["wouldnt've"] = "wouldn't've", ["wouldn'tve"] = "wouldn't've", ["yall"] = "y'all", ["yall'll"] = "y'all'll",
        ["y'allll"] = "y'all'll", ["yall'd've"] = "y'all'd've", ["y'alld've"] = "y'all'd've", ["y'all'dve"] = "y'all'd've",
        ["youd"] = "you'd", ["youd've"] = "you'd've", ["you'dve"] = "you'd've", ["youll"] = "you'll",
        ["youre"] = "you're", ["youve"] = "you've",
    };

    /// <summary>Full normalisation of one answer: whitespace, punctuation, then digits/articles/contractions.</summary>
    public static string Normalize(string answer)
    {
        return DigitsArticlesContractions(StripPunctuation(StripWhitespace(answer)));
    }

    /// <summary>What the official evaluator does to every answer first: tabs and newlines become spaces, then Python's strip().</summary>
    public static string StripWhitespace(string answer) => PythonText.Strip(answer.Replace('\n', ' ').Replace('\t', ' '));

    /// <summary>
    /// The official punctuation step. A punctuation mark is deleted when the text has it next to a space
    /// (or the text has a digit,digit comma anywhere), otherwise it becomes a space. The test looks at the
    /// original text, as the official code does.
    /// </summary>
    public static string StripPunctuation(string text)
    {
        bool hasDigitComma = DigitCommaDigit().IsMatch(text);
        var sb = new StringBuilder(text);
        foreach (char p in Punctuation)
        {
            bool touchesSpace = text.Contains($"{p} ", StringComparison.Ordinal) || text.Contains($" {p}", StringComparison.Ordinal);
            sb.Replace(p.ToString(), touchesSpace || hasDigitComma ? "" : " ");
        }
        // The official pattern "(?!<=\d)(\.)(?!\d)" has a mistyped look-behind that never triggers: it
        // removes every period that is not followed by a digit, so "2.5" keeps its point. Its call passes
        // re.UNICODE where sub() takes the count, so only the first 32 such periods go.
        return PeriodNotBeforeDigit().Replace(sb.ToString(), "", OfficialPeriodCount);
    }

    /// <summary>Lower-case, split on whitespace, number words → digits, drop articles, restore contractions.</summary>
    public static string DigitsArticlesContractions(string text)
    {
        var words = new List<string>();
        foreach (var raw in PythonText.Split(text.ToLowerInvariant()))
        {
            string word = NumberWords.GetValueOrDefault(raw, raw);
            if (!Articles.Contains(word)) words.Add(word);
        }
        for (int i = 0; i < words.Count; i++)
            if (Contractions.TryGetValue(words[i], out var withApostrophe)) words[i] = withApostrophe;
        return string.Join(' ', words);
    }

    [GeneratedRegex(@"\d,\d")]
    private static partial Regex DigitCommaDigit();

    [GeneratedRegex(@"\.(?!\d)")]
    private static partial Regex PeriodNotBeforeDigit();
}
