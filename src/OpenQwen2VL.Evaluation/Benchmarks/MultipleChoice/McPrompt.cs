using System.Text;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

/// <summary>
/// The multiple-choice prompt exactly as VLMEvalKit's <c>ImageMCQDataset.build_prompt</c> builds it
/// (vlmeval/dataset/image_mcq.py): <c>Hint: {hint}\n</c> when the row has one, <c>Question: {question}\n</c>, then if
/// the row has options <c>Options:\n</c>, one <c>{letter}. {text}\n</c> per option and
/// <c>Please select the correct answer from the options above. \n</c> (with its space before the line break). The
/// images come before the text there (one message each); here one <c>&lt;image&gt;\n</c> per image, framed like
/// the short-answer prompts (plain, or one ChatML user turn after the system turn).
/// </summary>
public static class McPrompt
{
    public const string Suffix = "Please select the correct answer from the options above. \n";

    /// <summary>The text part of VLMEvalKit's message.</summary>
    public static string Body(McQuestion q)
    {
        var sb = new StringBuilder();
        if (q.Hint is not null) sb.Append("Hint: ").Append(q.Hint).Append('\n');
        sb.Append("Question: ").Append(q.Question).Append('\n');
        if (q.Options.Count > 0)
        {
            sb.Append("Options:\n");
            foreach (var (letter, text) in q.Options) sb.Append(letter).Append(". ").Append(text).Append('\n');
            sb.Append(Suffix);
        }
        return sb.ToString();
    }

    public static string Text(McQuestion q, int images, VqaPromptStyle style)
    {
        var user = string.Concat(Enumerable.Repeat(VqaPromptBuilder.ImageToken + "\n", images)) + Body(q);
        return style switch
        {
            VqaPromptStyle.Plain => user,
            // The released model's own chat template (one user turn), as its VQA prompts use.
            VqaPromptStyle.OpenQwen2VL => OpenQwen2VL.Data.Prompts.OpenQwen2VLPromptBuilder.Render([new(OpenQwen2VL.Data.Prompts.ChatRole.User, user)]),
            _ => $"<|im_start|>system\n{VqaPromptBuilder.SystemPrompt}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n",
        };
    }
}
