namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// The answer post-processing that common harnesses (lmms-eval's and LLaVA's <c>EvalAIAnswerProcessor</c>, from
/// Pythia/MMF) apply to a generated answer before writing it to a VQAv2/TextVQA results file: lower-case, delete
/// every <c>,</c> and <c>?</c>, split a possessive <c>'s</c> off as <c> 's</c>, strip; then the official
/// whitespace, punctuation and digit/article/contraction steps of <see cref="VqaAnswerNormalizer"/>.
/// Written this way, the answer already has the form the official evaluator compares, so its unanimous-answers
/// branch (no normalisation) scores it as the normalising branch would.
/// </summary>
public static class EvalAiAnswerProcessor
{
    public static string Process(string answer)
    {
        string text = PythonText.Strip(answer.ToLowerInvariant().Replace(",", "").Replace("?", "").Replace("'s", " 's"));
        // The harness's digit-comma test ("(?<=\d)(,)+(?=\d)") can never fire once commas are gone, as with the
        // official "\d,\d" one: the shared punctuation step is therefore the same.
        return VqaAnswerNormalizer.DigitsArticlesContractions(VqaAnswerNormalizer.StripPunctuation(VqaAnswerNormalizer.StripWhitespace(text)));
    }
}
