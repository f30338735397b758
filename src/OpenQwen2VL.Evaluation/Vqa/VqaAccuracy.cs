namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// The VQAv2 accuracy of one predicted answer against the human answers (10 in VQAv2), exactly as the official
/// evaluator (GT-Vision-Lab/VQA, vqaEval.py) computes it: for each annotator left out in turn,
/// min(#remaining annotators who gave the prediction / 3, 1), averaged over the leave-one-out subsets
/// (3 agreeing annotators out of 10 give 0.9, not 1).
/// <para>
/// Both sides have tabs/newlines turned into spaces and are stripped. Only when the human answers are not all
/// identical are both sides then normalised (<see cref="VqaAnswerNormalizer"/>); when they are unanimous the
/// official code compares the stripped strings as they are, so "Two." against ten "2" scores 0. That is why
/// predictions are post-processed (<see cref="EvalAiAnswerProcessor"/>) before they are written.
/// </para>
/// </summary>
public static class VqaAccuracy
{
    public static double Score(string prediction, IReadOnlyList<string> referenceAnswers)
    {
        if (referenceAnswers.Count == 0) throw new ArgumentException("a question needs at least one reference answer", nameof(referenceAnswers));
        string predicted = VqaAnswerNormalizer.StripWhitespace(prediction);
        var references = referenceAnswers.Select(VqaAnswerNormalizer.StripWhitespace).ToArray();
        if (references.Distinct(StringComparer.Ordinal).Skip(1).Any())
        {
            predicted = VqaAnswerNormalizer.Normalize(predicted);
            references = references.Select(VqaAnswerNormalizer.Normalize).ToArray();
        }
        return LeaveOneOut(predicted, references);
    }

    /// <summary>
    /// The leave-one-annotator-out average of min(matches / 3, 1) on answers already brought to one form
    /// (each annotator is a distinct answer record, as in VQAv2/TextVQA, so leaving one out removes exactly one).
    /// </summary>
    public static double LeaveOneOut(string predicted, IReadOnlyList<string> references)
    {
        int matches = references.Count(a => string.Equals(a, predicted, StringComparison.Ordinal));
        double sum = 0;
        foreach (var leftOut in references)
        {
            int others = matches - (string.Equals(leftOut, predicted, StringComparison.Ordinal) ? 1 : 0);
            sum += Math.Min(1.0, others / 3.0);
        }
        return sum / references.Count;
    }

    /// <summary>A 0-1 accuracy as the official code reports it: a percentage rounded (Python round) to 2 decimals.</summary>
    public static double OfficialPercent(double accuracy) => PythonText.Round(100 * accuracy, 2);

    /// <summary>
    /// The official mean of per-question accuracies as a rounded percentage: a plain left-to-right float sum
    /// divided by the count, as <c>float(sum(accQA))/len(accQA)</c> does.
    /// </summary>
    public static double OfficialMeanPercent(IEnumerable<double> accuracies)
    {
        double sum = 0;
        int n = 0;
        foreach (var a in accuracies) { sum += a; n++; }
        if (n == 0) throw new ArgumentException("no accuracies to average", nameof(accuracies));
        return OfficialPercent(sum / n);
    }
}
