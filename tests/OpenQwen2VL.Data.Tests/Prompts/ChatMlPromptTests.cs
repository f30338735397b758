using OpenQwen2VL.Data.Prompts;

namespace OpenQwen2VL.Tests.Prompts;

public class ChatMlPromptTests
{
    private static readonly ChatTurn[] s_conversation =
    [
        new(ChatRole.User, "<image>\nWhat is in the picture?"),
        new(ChatRole.Assistant, "A black cat on a mat."),
        new(ChatRole.User, "What colour is the mat?"),
        new(ChatRole.Assistant, "It's red."),
    ];

    [Fact]
    public void RendersQwen2ChatMl()
    {
        // The form of the Qwen2 chat template (docs: notes "Chat template"), system prompt included.
        const string expected =
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
            "<|im_start|>user\n<image>\nWhat is in the picture?<|im_end|>\n<|im_start|>assistant\nA black cat on a mat.<|im_end|>\n" +
            "<|im_start|>user\nWhat colour is the mat?<|im_end|>\n<|im_start|>assistant\nIt's red.<|im_end|>\n";
        var builder = new ChatMlPromptBuilder(PromptTestTokenizer.Instance);
        Assert.Equal(expected, builder.Render(s_conversation));
        Assert.Equal(expected, PromptTestTokenizer.DecodeWithPlaceholders(builder.Build(s_conversation).InputIds));
    }

    [Fact]
    public void PiecewiseEncodingEqualsEncodingTheWholeText()
    {
        var tok = PromptTestTokenizer.Instance;
        var builder = new ChatMlPromptBuilder(tok);
        var parts = builder.Render(s_conversation).Split(MultimodalTokens.ImagePlaceholder);
        var whole = new List<int>(tok.Encode(parts[0]));
        foreach (var part in parts[1..]) { whole.Add(MultimodalTokens.ImageMarker); whole.AddRange(tok.Encode(part)); }
        Assert.Equal(whole, builder.Build(s_conversation).InputIds);
    }

    [Fact]
    public void OnlyAssistantRepliesAndTheirEndTokenAreTrained()
    {
        var sample = new ChatMlPromptBuilder(PromptTestTokenizer.Instance).Build(s_conversation);
        Assert.Equal(["A black cat on a mat.<|im_end|>", "It's red.<|im_end|>"], PromptTestTokenizer.TrainedSpans(sample));
        for (int i = 0; i < sample.Labels.Length; i++)
            Assert.True(sample.Labels[i] == MultimodalTokens.IgnoreLabel || sample.Labels[i] == sample.InputIds[i]);
    }

    [Fact]
    public void SystemTurnReplacesTheDefaultSystemPrompt()
    {
        var builder = new ChatMlPromptBuilder(PromptTestTokenizer.Instance);
        string text = builder.Render([new(ChatRole.System, "Be brief."), .. s_conversation]);
        Assert.StartsWith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n", text);
    }

    [Fact]
    public void TruncationKeepsAPrefixWithinTheContextAndNeverSplitsAnImage()
    {
        var sample = new ChatMlPromptBuilder(PromptTestTokenizer.Instance).Build(s_conversation);
        int marker = Array.IndexOf(sample.InputIds, MultimodalTokens.ImageMarker);
        const int visual = 50;
        for (int ctx = 1; ctx <= sample.EstimatedLength(visual) + 1; ctx++)
        {
            var cut = sample.TruncateTo(ctx, visual);
            Assert.True(cut.EstimatedLength(visual) <= ctx);
            Assert.Equal(sample.InputIds[..cut.InputIds.Length], cut.InputIds);
            Assert.Equal(sample.Labels[..cut.Labels.Length], cut.Labels);
            // Maximal: one more token would not fit (the image costs all its visual tokens at once).
            if (cut.InputIds.Length < sample.InputIds.Length)
                Assert.True(cut.EstimatedLength(visual) + (cut.InputIds.Length == marker ? visual : 1) > ctx);
        }
    }
}
