namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// The "prior" baselines of VQA: answer every question with the most frequent (normalised) answer,
/// either of the whole split or of the question's <c>question_type</c>. Ties go to the ordinally smallest
/// answer so the baseline is deterministic. Computed on the evaluated split itself, which makes it an
/// optimistic baseline (it sees the answer distribution it is scored on).
/// </summary>
public sealed class MajorityAnswerBaseline
{
    private readonly string _overall;
    private readonly Dictionary<string, string> _byType;

    public MajorityAnswerBaseline(IReadOnlyList<VqaItem> items, bool perQuestionType)
    {
        if (items.Count == 0) throw new ArgumentException("the split is empty", nameof(items));
        PerQuestionType = perQuestionType;
        _overall = MostFrequent(items);
        _byType = items.GroupBy(i => i.QuestionType, StringComparer.Ordinal).ToDictionary(g => g.Key, g => MostFrequent(g.ToList()), StringComparer.Ordinal);
    }

    public bool PerQuestionType { get; }

    public string AnswerFor(VqaItem item) => PerQuestionType ? _byType.GetValueOrDefault(item.QuestionType, _overall) : _overall;

    /// <summary>As a generator, so the baseline runs through the same evaluation path as a model.</summary>
    public IVqaAnswerGenerator AsGenerator(IReadOnlyList<VqaItem> items)
    {
        var byQuestion = items.ToDictionary(i => i.QuestionId);
        var name = PerQuestionType ? "majority_answer_per_question_type" : "majority_answer";
        return new DelegateAnswerGenerator(name, p => AnswerFor(byQuestion[p.QueryQuestionId]));
    }

    /// <summary>Mean VQA accuracy of this baseline on the items.</summary>
    public double Accuracy(IReadOnlyList<VqaItem> items) => items.Average(i => VqaAccuracy.Score(AnswerFor(i), i.Answers));

    private static string MostFrequent(IReadOnlyList<VqaItem> items) =>
        items.Select(i => VqaAnswerNormalizer.Normalize(i.MultipleChoiceAnswer))
            .GroupBy(a => a, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .First().Key;
}
