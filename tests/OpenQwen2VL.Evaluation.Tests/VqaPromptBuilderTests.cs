using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Tests.Evaluation;

public class VqaPromptBuilderTests
{
    private static VqaItem Item(long qid, long image, string q = "What color?", string a = "red") =>
        new(qid, image, $"/img/{image}.jpg", q, "color", "other", a, Enumerable.Repeat(a, 10).ToArray());

    private static readonly VqaItem[] Pool = Enumerable.Range(1, 30).Select(i => Item(i * 10, i, $"q{i}?", $"a{i}"))
        .Append(Item(11, 1, "second on image 1?", "x")).ToArray();

    [Fact]
    public void ZeroShotIsThePaperPrompt()
    {
        var p = new VqaPromptBuilder(Pool, 0, 1).Build(Pool[0]);
        Assert.Equal("<image>\nQuestion: q1?\nAnswer the question using a single word or phrase.\nAnswer:", p.Text);
        Assert.Equal(["/img/1.jpg"], p.ImagePaths);
    }

    [Fact]
    public void KShotPrependsDemonstrationsWithImagesAndEndOfChunk()
    {
        var builder = new VqaPromptBuilder(Pool, 4, 1);
        var p = builder.Build(Pool[0]);
        Assert.Equal(4, p.DemonstrationQuestionIds.Count);
        Assert.Equal(5, p.ImagePaths.Count);
        Assert.Equal("/img/1.jpg", p.ImagePaths[^1]);
        Assert.Equal(5, CountOf(p.Text, "<image>"));
        Assert.Equal(4, CountOf(p.Text, "<|endofchunk|>"));
        Assert.EndsWith(VqaPromptBuilder.QueryText("q1?"), p.Text);
        // Never the query, nor another question on the query's image (qid 11 is on image 1).
        Assert.DoesNotContain(10L, p.DemonstrationQuestionIds);
        Assert.DoesNotContain(11L, p.DemonstrationQuestionIds);
        var first = Pool.Single(i => i.QuestionId == p.DemonstrationQuestionIds[0]);
        Assert.StartsWith(VqaPromptBuilder.QueryText(first.Question) + " " + first.MultipleChoiceAnswer + "<|endofchunk|>", p.Text);
    }

    [Fact]
    public void DemonstrationsDependOnlyOnSeedAndQuery()
    {
        var a = new VqaPromptBuilder(Pool, 3, 7).Build(Pool[5]);
        var b = new VqaPromptBuilder(Pool.Reverse().ToArray(), 3, 7).Build(Pool[5]);
        Assert.Equal(a.DemonstrationQuestionIds.Order(), b.DemonstrationQuestionIds.Order());
        var seeds = Enumerable.Range(0, 5).Select(s => string.Join(",", new VqaPromptBuilder(Pool, 3, s).Build(Pool[5]).DemonstrationQuestionIds));
        Assert.True(seeds.Distinct().Count() > 1);
    }

    [Fact]
    public void ChatStyleWrapsTurnsInChatMl()
    {
        var p = new VqaPromptBuilder(Pool, 1, 1, VqaPromptStyle.Chat).Build(Pool[0]);
        Assert.StartsWith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\nQuestion: ", p.Text);
        Assert.EndsWith("<|im_start|>user\n<image>\nQuestion: q1?\nAnswer the question using a single word or phrase.<|im_end|>\n<|im_start|>assistant\n", p.Text);
        Assert.Equal(2, CountOf(p.Text, "<|im_start|>assistant\n"));
    }

    private static int CountOf(string s, string sub) => (s.Length - s.Replace(sub, "", StringComparison.Ordinal).Length) / sub.Length;
}
