using OpenQwen2VL.Data.Text;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// The released Open-Qwen2VL model's own chat format (the reference's Qwen2 prompt builder), byte for byte:
/// <c>&lt;s&gt;&lt;|im_start|&gt;system\nYou are a helpful assistant.&lt;|im_end|&gt;\n</c>, then per user turn
/// <c>&lt;|im_start|&gt;user\n{msg}&lt;|im_end|&gt;assistant\n</c> (no "\n&lt;|im_start|&gt;" before <c>assistant</c>)
/// and per reply <c>{reply}&lt;|im_end|&gt;\n</c> (an empty reply is one space). Every message is stripped first
/// (Python's <c>str.strip()</c>). The system turn is fixed: the reference ignores any other.
/// Our own SFT writes correct ChatML instead (<see cref="ChatMlPromptBuilder"/>).
/// </summary>
/// <remarks>
/// Ids follow the reference's tokenization of each turn's text (its <c>tokenizer_image_token</c>): the text is split
/// at <c>&lt;image&gt;</c> and each piece encoded alone. When a turn starts with <c>&lt;s&gt;</c> (only the first),
/// that function keeps it once and drops the first token of every piece after an image, meant for tokenizers that
/// prefix each piece with BOS; Qwen's does not, so the released model was trained without the token right after
/// each first-turn image (usually the "\n"). We reproduce that, so prompts match what the model saw.
/// </remarks>
public sealed class OpenQwen2VLPromptBuilder
{
    public const string SystemPrompt = "You are a helpful assistant.";
    /// <summary>The reference's system turn, with <c>&lt;s&gt;</c> first.</summary>
    public const string SystemTurn = MultimodalTokens.Bos + MultimodalTokens.ImStart + "system\n" + SystemPrompt + MultimodalTokens.ImEnd + "\n";

    private readonly ITextTokenizer _tokenizer;
    private readonly int _bos;

    public OpenQwen2VLPromptBuilder(ITextTokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        _bos = MultimodalTokens.RequireId(tokenizer, MultimodalTokens.Bos);
        foreach (var t in new[] { MultimodalTokens.ImStart, MultimodalTokens.ImEnd })
            MultimodalTokens.RequireId(tokenizer, t);
    }

    /// <summary>Each turn's text as the reference's <c>add_turn</c> returns it (the first user turn carries the system turn).</summary>
    public static IReadOnlyList<string> TurnTexts(IReadOnlyList<ChatTurn> turns)
    {
        var texts = new List<string>();
        foreach (var turn in Conversation(turns))
        {
            string msg = PythonString.Strip(turn.Text);
            texts.Add(turn.Role == ChatRole.User
                ? (texts.Count == 0 ? SystemTurn : "") + $"{MultimodalTokens.ImStart}user\n{msg}{MultimodalTokens.ImEnd}assistant\n"
                : (msg.Length == 0 ? " " : msg) + MultimodalTokens.ImEnd + "\n");
        }
        return texts;
    }

    /// <summary>
    /// The conversation's text; ending with a user turn, it is the prompt up to the reply
    /// (<c>...&lt;|im_end|&gt;assistant\n</c>, the "\n" kept: the reference's <c>get_prompt()</c> strips it, but the model
    /// was trained with it before every reply).
    /// </summary>
    public static string Render(IReadOnlyList<ChatTurn> turns) => string.Concat(TurnTexts(turns));

    /// <summary>A training sample: loss on each reply's <c>{reply}&lt;|im_end|&gt;\n</c>, nothing else.</summary>
    public TokenizedSample Build(IReadOnlyList<ChatTurn> turns)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        var texts = TurnTexts(turns);
        for (int t = 0; t < texts.Count; t++)
        {
            int start = ids.Count;
            EncodeTurn(texts[t], ids);
            bool reply = t % 2 == 1;
            for (int i = start; i < ids.Count; i++)
                labels.Add(reply && ids[i] != MultimodalTokens.ImageMarker ? ids[i] : MultimodalTokens.IgnoreLabel);
        }
        return new TokenizedSample([.. ids], [.. labels]);
    }

    /// <summary>Inference: the ids of a conversation that ends with the user turn to answer, up to the reply.</summary>
    public int[] PromptIds(IReadOnlyList<ChatTurn> turns)
    {
        var conversation = Conversation(turns);
        if (conversation.Count == 0 || conversation[^1].Role != ChatRole.User)
            throw new ArgumentException("a prompt ends with the user turn to answer", nameof(turns));
        return Build(turns).InputIds;
    }

    /// <summary>
    /// Ids of a conversation text written by <see cref="Render"/> (e.g. a VQA prompt): cut back into its turns (each ends
    /// at <c>&lt;|im_end|&gt;assistant\n</c> or <c>&lt;|im_end|&gt;\n</c>, the first after the system turn) and encoded
    /// turn by turn as <see cref="Build"/> does. Returns the number of images.
    /// </summary>
    public int EncodeRendered(string text, List<int> ids)
    {
        int before = ids.Count;
        string userEnd = MultimodalTokens.ImEnd + "assistant\n", replyEnd = MultimodalTokens.ImEnd + "\n";
        int start = 0;
        while (start < text.Length)
        {
            int from = start == 0 && text.StartsWith(SystemTurn, StringComparison.Ordinal) ? SystemTurn.Length : start;
            int end = text.Length;
            foreach (var marker in new[] { userEnd, replyEnd })
            {
                int at = text.IndexOf(marker, from, StringComparison.Ordinal);
                if (at >= 0) end = Math.Min(end, at + marker.Length);
            }
            EncodeTurn(text[start..end], ids);
            start = end;
        }
        return ids.Skip(before).Count(id => id == MultimodalTokens.ImageMarker);
    }

    /// <summary>One turn's ids as the reference's <c>tokenizer_image_token</c> gives them (see remarks).</summary>
    private void EncodeTurn(string text, List<int> ids)
    {
        var pieces = text.Split(MultimodalTokens.ImagePlaceholder).Select(p => p.Length == 0 ? [] : _tokenizer.Encode(p)).ToArray();
        int skip = pieces[0].Length > 0 && pieces[0][0] == _bos ? 1 : 0;
        if (skip == 1) ids.Add(_bos);
        for (int p = 0; p < pieces.Length; p++)
        {
            if (p > 0) ids.Add(MultimodalTokens.ImageMarker);
            ids.AddRange(pieces[p].Skip(skip));
        }
    }

    /// <summary>The user/assistant turns, alternating from a user turn; a leading system turn must be the fixed one.</summary>
    private static List<ChatTurn> Conversation(IReadOnlyList<ChatTurn> turns)
    {
        var list = turns.ToList();
        if (list.Count > 0 && list[0].Role == ChatRole.System)
        {
            if (PythonString.Strip(list[0].Text) != SystemPrompt)
                throw new ArgumentException($"the open-qwen2vl format has a fixed system prompt (\"{SystemPrompt}\")", nameof(turns));
            list.RemoveAt(0);
        }
        for (int i = 0; i < list.Count; i++)
        {
            var expected = i % 2 == 0 ? ChatRole.User : ChatRole.Assistant;
            if (list[i].Role != expected)
                throw new ArgumentException($"turn {i} is {list[i].Role}, expected {expected}: turns alternate user, assistant, ...", nameof(turns));
        }
        return list;
    }
}
