using OpenQwen2VL.Data.Prompts;
using System.Text;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// Zero- and k-shot VQA prompts as in Open-Qwen2VL's evaluation:
/// <c>&lt;image&gt;\nQuestion: {q}\nAnswer the question using a single word or phrase.\nAnswer:</c>.
/// k-shot prepends k demonstrations (image, question, answer, <c>&lt;|endofchunk|&gt;</c>) drawn with a fixed seed
/// from the same split. A demonstration is never the query itself nor another question on the query's image
/// (that would show the model its own image with a labelled answer). The draw depends only on the seed and
/// the query's question id, so a prompt is the same whatever the order or subset evaluated.
/// In chat style each demonstration is one earlier user/assistant exchange instead; the open-qwen2vl style uses the
/// released model's template and the reference's chat text (<c>&lt;image&gt;\n{q}\nAnswer the question using a single
/// word or phrase.</c>). <see cref="ShotSelection.Reference"/> replaces the per-question draw with the reference
/// harness's: one Python <c>Random(seed).sample(pool, k)</c> for the whole run, the same demonstrations for every
/// question (the query itself not excluded, as there).
/// </summary>
public sealed class VqaPromptBuilder(IReadOnlyList<VqaItem> pool, int shots, int seed, VqaPromptStyle style = VqaPromptStyle.Plain,
    ShotSelection selection = ShotSelection.Ours)
{
    public const string ImageToken = "<image>";
    public const string EndOfChunk = "<|endofchunk|>";
    public const string Instruction = "Answer the question using a single word or phrase.";
    public const string SystemPrompt = "You are a helpful assistant.";

    public int Shots { get; } = shots >= 0 ? shots : throw new ArgumentOutOfRangeException(nameof(shots), "shots must be >= 0");
    public ShotSelection Selection { get; } = selection;

    // The reference's single draw, made once (in pool order, as the reference samples its annotations list).
    private readonly Lazy<IReadOnlyList<VqaItem>> _referenceDraw =
        new(() => new PythonRandom(seed).Sample(pool, Math.Min(shots, pool.Count)));

    public static string QueryText(string question) => $"{ImageToken}\nQuestion: {question}\n{Instruction}\nAnswer:";

    public VqaPrompt Build(VqaItem query)
    {
        var demos = Demonstrations(query);
        var images = demos.Select(d => d.ImagePath).Append(query.ImagePath).ToArray();
        var ids = demos.Select(d => d.QuestionId).ToArray();
        var sb = new StringBuilder();
        if (style == VqaPromptStyle.Plain)
        {
            foreach (var d in demos) sb.Append(QueryText(d.Question)).Append(' ').Append(d.MultipleChoiceAnswer).Append(EndOfChunk);
            sb.Append(QueryText(query.Question));
        }
        else if (style == VqaPromptStyle.OpenQwen2VL)
        {
            var turns = new List<ChatTurn>();
            foreach (var d in demos)
            {
                turns.Add(new ChatTurn(ChatRole.User, ReferenceChatText(d.Question)));
                turns.Add(new ChatTurn(ChatRole.Assistant, d.MultipleChoiceAnswer));
            }
            turns.Add(new ChatTurn(ChatRole.User, ReferenceChatText(query.Question)));
            sb.Append(OpenQwen2VLPromptBuilder.Render(turns));
        }
        else
        {
            sb.Append("<|im_start|>system\n").Append(SystemPrompt).Append("<|im_end|>\n");
            foreach (var d in demos)
            {
                AppendUser(sb, d.Question);
                sb.Append("<|im_start|>assistant\n").Append(d.MultipleChoiceAnswer).Append("<|im_end|>\n");
            }
            AppendUser(sb, query.Question);
            sb.Append("<|im_start|>assistant\n");
        }
        return new VqaPrompt(sb.ToString(), images, query.QuestionId, ids);
    }

    /// <summary>The user text of the reference harness's chat-template path.</summary>
    public static string ReferenceChatText(string question) => $"{ImageToken}\n{question}\n{Instruction}";

    private static void AppendUser(StringBuilder sb, string question) =>
        sb.Append("<|im_start|>user\n").Append(ImageToken).Append("\nQuestion: ").Append(question).Append('\n').Append(Instruction).Append("<|im_end|>\n");

    /// <summary>
    /// k distinct demonstrations from the pool; fewer if the pool is too small. Ours excludes the query's image;
    /// the reference's are the same k for every query.
    /// </summary>
    public IReadOnlyList<VqaItem> Demonstrations(VqaItem query)
    {
        if (Shots == 0) return [];
        if (Selection == ShotSelection.Reference) return _referenceDraw.Value;
        // Sorted first, so the draw does not depend on the order the split was loaded in.
        var candidates = pool.Where(p => p.ImageId != query.ImageId).OrderBy(p => p.QuestionId).ToArray();
        var rng = new Random(unchecked(seed * 1_000_003 + (int)(query.QuestionId % int.MaxValue)));
        rng.Shuffle(candidates);
        return candidates.Take(Shots).ToArray();
    }
}
