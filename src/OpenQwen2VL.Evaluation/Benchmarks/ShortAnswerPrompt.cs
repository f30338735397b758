using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>
/// The zero-shot short-answer prompt of Open-Qwen2VL's (and LLaVA's) VQA-style evaluation
/// (<c>&lt;image&gt;\nQuestion: {q}\nAnswer the question using a single word or phrase.\nAnswer:</c>, or its ChatML
/// turn): the one <see cref="VqaPromptBuilder"/> builds for a query without demonstrations.
/// </summary>
public static class ShortAnswerPrompt
{
    public static string Text(string question, VqaPromptStyle style) =>
        new VqaPromptBuilder([], shots: 0, seed: 0, style).Build(new VqaItem(0, 0, "", question, "", "", "", [])).Text;
}
