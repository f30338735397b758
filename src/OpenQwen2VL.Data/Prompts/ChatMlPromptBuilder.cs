using System.Text;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// Qwen2 ChatML for supervised fine-tuning:
/// `&lt;|im_start|&gt;system\n{system}&lt;|im_end|&gt;\n` then per turn `&lt;|im_start|&gt;user\n{msg}&lt;|im_end|&gt;\n`
/// and `&lt;|im_start|&gt;assistant\n{reply}&lt;|im_end|&gt;\n`. Loss only on each reply and its `&lt;|im_end|&gt;`;
/// the "\n" after it is not trained (as HF's assistant masks: it is template, the model never has to emit it
/// before stopping). `&lt;image&gt;` in user text becomes the image marker; elsewhere it stays text.
/// </summary>
/// <remarks>
/// Headers, replies and the text between image placeholders are encoded piece by piece, as LLaVA's Qwen
/// preprocessing does, so the loss mask falls exactly on token boundaries. This equals encoding the whole
/// string except where a reply starts with a newline run (Qwen2's split regex would join "\n" + "\n...").
/// </remarks>
public sealed class ChatMlPromptBuilder
{
    public const string DefaultSystemPrompt = "You are a helpful assistant.";

    private readonly ITextTokenizer _tokenizer;
    private readonly string _systemPrompt;

    public ChatMlPromptBuilder(ITextTokenizer tokenizer, string systemPrompt = DefaultSystemPrompt)
    {
        _tokenizer = tokenizer;
        _systemPrompt = systemPrompt;
        foreach (var t in new[] { MultimodalTokens.ImStart, MultimodalTokens.ImEnd })
            MultimodalTokens.RequireId(tokenizer, t);
    }

    /// <summary>The conversation as ChatML text (what <see cref="Build"/> encodes), placeholders kept as `&lt;image&gt;`.</summary>
    public string Render(IReadOnlyList<ChatTurn> turns)
    {
        var sb = new StringBuilder();
        foreach (var (text, _, _) in Segments(turns)) sb.Append(text);
        return sb.ToString();
    }

    public TokenizedSample Build(IReadOnlyList<ChatTurn> turns)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        foreach (var (text, trained, imagesAllowed) in Segments(turns))
        {
            int start = ids.Count;
            if (imagesAllowed) MultimodalTokens.EncodeWithImages(_tokenizer, text, ids);
            else ids.AddRange(_tokenizer.Encode(text));
            for (int i = start; i < ids.Count; i++)
                labels.Add(trained && ids[i] != MultimodalTokens.ImageMarker ? ids[i] : MultimodalTokens.IgnoreLabel);
        }
        return new TokenizedSample([.. ids], [.. labels]);
    }

    /// <summary>(text, trained, may hold image placeholders) in order.</summary>
    private IEnumerable<(string Text, bool Trained, bool Images)> Segments(IReadOnlyList<ChatTurn> turns)
    {
        const string start = MultimodalTokens.ImStart, end = MultimodalTokens.ImEnd;
        string system = turns.FirstOrDefault(t => t.Role == ChatRole.System)?.Text ?? _systemPrompt;
        yield return ($"{start}system\n{system}{end}\n", false, false);
        foreach (var turn in turns)
        {
            switch (turn.Role)
            {
                case ChatRole.User:
                    yield return ($"{start}user\n", false, false);
                    yield return (turn.Text, false, true);
                    yield return ($"{end}\n", false, false);
                    break;
                case ChatRole.Assistant:
                    yield return ($"{start}assistant\n", false, false);
                    yield return (turn.Text + end, true, false);
                    yield return ("\n", false, false);
                    break;
            }
        }
    }
}
