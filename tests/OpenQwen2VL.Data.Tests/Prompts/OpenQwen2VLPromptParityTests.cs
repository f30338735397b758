using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Prompts;

/// <summary>
/// The released model's prompt format against the reference's Qwen2PromptBuilder. The expected turn texts below are
/// what the reference's <c>add_turn</c> returned for these conversations (its qwen2_prompter.py run with python3); the
/// expected ids are those texts tokenized as its <c>tokenizer_image_token</c> does, with our tokenizer (the fixture
/// tokenizer.json plus the added special tokens, as every stage loads it).
/// </summary>
[Trait("Category", "Parity")]
public class OpenQwen2VLPromptParityTests
{
    private static readonly BpeTokenizer s_tok = MultimodalTokens.LoadTokenizer(ReferenceFixtures.File("tokenizer.json"));

    private const string Sys = "<s><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n";

    // Unstripped on purpose: the reference strips every message (incl. U+001C, Python whitespace) and writes an empty reply as " ".
    private static readonly ChatTurn[] s_single = [new(ChatRole.User, "<image>\nWhat is in the image?  "), new(ChatRole.Assistant, " A cat.\n")];
    private static readonly string[] s_singleTexts =
        [Sys + "<|im_start|>user\n<image>\nWhat is in the image?<|im_end|>assistant\n", "A cat.<|im_end|>\n"];

    private static readonly ChatTurn[] s_multi =
    [
        new(ChatRole.User, "  <image>\nDescribe it."), new(ChatRole.Assistant, "A red circle."),
        new(ChatRole.User, "\u001cAnd the colour of <image> here?\n"), new(ChatRole.Assistant, ""),
    ];
    private static readonly string[] s_multiTexts =
    [
        Sys + "<|im_start|>user\n<image>\nDescribe it.<|im_end|>assistant\n", "A red circle.<|im_end|>\n",
        "<|im_start|>user\nAnd the colour of <image> here?<|im_end|>assistant\n", " <|im_end|>\n",
    ];

    [Fact]
    public void TurnTextsAreTheReferenceBuildersByteForByte()
    {
        Assert.Equal(s_singleTexts, OpenQwen2VLPromptBuilder.TurnTexts(s_single));
        Assert.Equal(s_multiTexts, OpenQwen2VLPromptBuilder.TurnTexts(s_multi));
        Assert.Equal(string.Concat(s_multiTexts), OpenQwen2VLPromptBuilder.Render(s_multi));
    }

    [Fact]
    public void SingleTurnIdsAndLabelsEqualTheReferences()
    {
        // tokenizer_image_token on the first turn: "<s>" kept once, each piece encoded alone, and the first token of
        // the piece after the image dropped (the reference's offset for BOS-prefixing tokenizers; here the "\n").
        int[] head = s_tok.Encode(Sys + "<|im_start|>user\n");
        int[] tail = s_tok.Encode("\nWhat is in the image?<|im_end|>assistant\n");
        Assert.Equal(s_tok.Encode("\n")[0], tail[0]);
        int[] reply = s_tok.Encode("A cat.<|im_end|>\n");
        int[] expected = [.. head, MultimodalTokens.ImageMarker, .. tail[1..], .. reply];

        var sample = new OpenQwen2VLPromptBuilder(s_tok).Build(s_single);
        Assert.Equal(expected, sample.InputIds);
        Assert.Equal(s_tok.TokenToId("<s>"), sample.InputIds[0]);
        Assert.Equal(1, sample.InputIds.Count(id => id == s_tok.TokenToId("<s>")));
        int promptLength = head.Length + tail.Length;
        Assert.All(sample.Labels[..promptLength], l => Assert.Equal(MultimodalTokens.IgnoreLabel, l));
        Assert.Equal(reply, sample.Labels[promptLength..]);
    }

    [Fact]
    public void MultiTurnIdsAndLabelsEqualTheReferences()
    {
        int[] first = [.. s_tok.Encode(Sys + "<|im_start|>user\n"), MultimodalTokens.ImageMarker, .. s_tok.Encode("\nDescribe it.<|im_end|>assistant\n")[1..]];
        int[] reply1 = s_tok.Encode("A red circle.<|im_end|>\n");
        // Later turns do not start with <s>: nothing is dropped around their images.
        int[] second = [.. s_tok.Encode("<|im_start|>user\nAnd the colour of "), MultimodalTokens.ImageMarker, .. s_tok.Encode(" here?<|im_end|>assistant\n")];
        int[] reply2 = s_tok.Encode(" <|im_end|>\n");

        var sample = new OpenQwen2VLPromptBuilder(s_tok).Build(s_multi);
        Assert.Equal([.. first, .. reply1, .. second, .. reply2], sample.InputIds);
        int ignore = MultimodalTokens.IgnoreLabel;
        int[] expectedLabels = [.. first.Select(_ => ignore), .. reply1, .. second.Select(_ => ignore), .. reply2];
        Assert.Equal(expectedLabels, sample.Labels);
        Assert.Equal(["A red circle.<|im_end|>\n", " <|im_end|>\n"], TrainedSpans(sample));
    }

    [Fact]
    public void InferencePromptIsTheTrainingSampleUpToTheReply()
    {
        var builder = new OpenQwen2VLPromptBuilder(s_tok);
        int[] full = builder.Build(s_multi).InputIds;
        int[] prompt = builder.PromptIds(s_multi[..3]);
        Assert.Equal(full[..prompt.Length], prompt);
        Assert.Equal(s_tok.Encode(" <|im_end|>\n"), full[prompt.Length..]);
        Assert.EndsWith("<|im_end|>assistant\n", OpenQwen2VLPromptBuilder.Render(s_multi[..3]));
        Assert.Throws<ArgumentException>(() => builder.PromptIds(s_multi));
    }

    [Fact]
    public void RejectsAnotherSystemPromptAndTurnsOutOfOrder()
    {
        var builder = new OpenQwen2VLPromptBuilder(s_tok);
        Assert.Throws<ArgumentException>(() => builder.Build([new(ChatRole.System, "Be terse."), .. s_single]));
        Assert.Equal(builder.Build(s_single), builder.Build([new(ChatRole.System, "You are a helpful assistant."), .. s_single]), new SampleComparer());
        Assert.Throws<ArgumentException>(() => builder.Build([new(ChatRole.Assistant, "Hi"), .. s_single]));
    }

    private static List<string> TrainedSpans(TokenizedSample s)
    {
        var spans = new List<string>();
        var run = new List<int>();
        for (int i = 0; i <= s.Labels.Length; i++)
        {
            if (i < s.Labels.Length && s.Labels[i] != MultimodalTokens.IgnoreLabel) { run.Add(s.Labels[i]); continue; }
            if (run.Count > 0) spans.Add(s_tok.Decode(run.ToArray()));
            run.Clear();
        }
        return spans;
    }

    private sealed class SampleComparer : IEqualityComparer<TokenizedSample>
    {
        public bool Equals(TokenizedSample? a, TokenizedSample? b) => a!.InputIds.SequenceEqual(b!.InputIds) && a.Labels.SequenceEqual(b.Labels);
        public int GetHashCode(TokenizedSample s) => s.InputIds.Length;
    }
}
