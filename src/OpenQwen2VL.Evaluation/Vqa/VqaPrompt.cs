namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// A prompt for one question: the text (with one <c>&lt;image&gt;</c> marker per image) and the image paths
/// in marker order, demonstrations first and the query image last. <see cref="QueryQuestionId"/> is for
/// logging and for answer-prior baselines; a model answers from the text and images only.
/// </summary>
public sealed record VqaPrompt(string Text, IReadOnlyList<string> ImagePaths, long QueryQuestionId, IReadOnlyList<long> DemonstrationQuestionIds)
{
    /// <summary>Texts (each a single token) that also end the answer, e.g. the reference harness's <c>,</c> <c>.</c> and newline.</summary>
    public IReadOnlyList<string> StopTexts { get; init; } = [];
}

/// <summary>
/// How the prompt is framed: plain text for a pre-trained model, Qwen2 ChatML for an instruction-tuned one, or the
/// released Open-Qwen2VL model's own chat template (<see cref="OpenQwen2VL.Data.Prompts.OpenQwen2VLPromptBuilder"/>).
/// </summary>
public enum VqaPromptStyle { Plain, Chat, OpenQwen2VL }

/// <summary>How k-shot demonstrations are chosen.</summary>
public enum ShotSelection
{
    /// <summary>Per question, seeded by the question id, never from the query's image.</summary>
    Ours,
    /// <summary>The reference harness's: one draw of k items for the whole run, Python's <c>Random(seed).sample(split, k)</c> (seed 21 there).</summary>
    Reference,
}
