namespace OpenQwen2VL.Synthetic;

/// <summary>
/// Ten simulated annotators answer each evaluation question, as in VQAv2. Most give the true answer; with
/// probability <c>disagreement</c> one gives a surface variant that the official normalisation maps back to
/// the truth ("Three", "red.", "the left") or, half of those times, a different answer of the same type.
/// </summary>
public static class AnnotatorSimulator
{
    public const int AnnotatorsPerQuestion = 10;

    public static IReadOnlyList<string> Answers(SyntheticQuestion q, Random rng, double disagreement)
    {
        var answers = new string[AnnotatorsPerQuestion];
        for (int i = 0; i < answers.Length; i++)
        {
            if (rng.NextDouble() >= disagreement) answers[i] = q.Answer;
            else if (rng.Next(2) == 0) answers[i] = SurfaceVariant(q, rng);
            else answers[i] = WrongAnswer(q, rng);
        }
        return answers;
    }

    private static string SurfaceVariant(SyntheticQuestion q, Random rng) => q.Type switch
    {
        VqaQuestionType.Count => SceneVocabulary.NumberWord(int.Parse(q.Answer, System.Globalization.CultureInfo.InvariantCulture)),
        VqaQuestionType.Position => "the " + q.Answer,
        _ => rng.Next(2) == 0 ? char.ToUpperInvariant(q.Answer[0]) + q.Answer[1..] : q.Answer + ".",
    };

    private static string WrongAnswer(SyntheticQuestion q, Random rng)
    {
        IReadOnlyList<string> options = q.Type switch
        {
            VqaQuestionType.Color => SceneVocabulary.ObjectColors.Select(c => c.Name).ToArray(),
            VqaQuestionType.Shape => SceneVocabulary.Shapes.Select(SceneVocabulary.Word).ToArray(),
            VqaQuestionType.Count => Enumerable.Range(SceneVocabulary.MinCount, SceneVocabulary.MaxCount)
                .Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            _ => SceneVocabulary.Positions.Select(SceneVocabulary.Word).ToArray(),
        };
        var wrong = options.Where(o => o != q.Answer).ToArray();
        return wrong[rng.Next(wrong.Length)];
    }
}
