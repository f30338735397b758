namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// The official VQAv2 accuracy of one predicted answer against the human answers (10 in VQAv2): for each
/// annotator left out in turn, min(#remaining annotators who gave the prediction / 3, 1), averaged over
/// the leave-one-out subsets. So 3 agreeing annotators out of 10 give 0.9, not 1.
/// <para>
/// Both sides are fully normalised. The official script fully normalises the prediction and relies on the
/// released VQAv2 annotations being normalised already (it only re-strips their punctuation); our
/// annotations hold raw annotator strings, so they get the same normalisation.
/// </para>
/// </summary>
public static class VqaAccuracy
{
    public static double Score(string prediction, IReadOnlyList<string> referenceAnswers)
    {
        if (referenceAnswers.Count == 0) throw new ArgumentException("a question needs at least one reference answer", nameof(referenceAnswers));
        string predicted = VqaAnswerNormalizer.Normalize(prediction);
        var normalized = referenceAnswers.Select(VqaAnswerNormalizer.Normalize).ToArray();
        int matches = normalized.Count(a => a == predicted);
        double sum = 0;
        foreach (var leftOut in normalized)
        {
            int others = matches - (leftOut == predicted ? 1 : 0);
            sum += Math.Min(1.0, others / 3.0);
        }
        return sum / normalized.Length;
    }
}
