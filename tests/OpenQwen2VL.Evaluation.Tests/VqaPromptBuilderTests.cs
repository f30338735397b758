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

    [Fact]
    public void ReferenceSelectionIsOneSeededDrawForEveryQuestion()
    {
        // The reference harness: Random(21).sample(annotations, k) once, in split order; here CPython's draw of 4 of 31.
        int[] pythonIndices = [.. new PythonRandom(21).Sample(Enumerable.Range(0, Pool.Length).ToArray(), 4)];
        var expected = pythonIndices.Select(i => Pool[i].QuestionId).ToArray();
        var builder = new VqaPromptBuilder(Pool, 4, 21, selection: ShotSelection.Reference);
        foreach (var query in Pool)
        {
            var p = builder.Build(query);
            Assert.Equal(expected, p.DemonstrationQuestionIds);
            Assert.Equal(4, CountOf(p.Text, "<|endofchunk|>"));
            Assert.Equal(5, p.ImagePaths.Count);
        }
        // Deterministic for the seed, whatever the builder instance; another seed draws other demonstrations.
        Assert.Equal(expected, new VqaPromptBuilder(Pool, 4, 21, selection: ShotSelection.Reference).Demonstrations(Pool[5]).Select(d => d.QuestionId));
        Assert.NotEqual(expected, new VqaPromptBuilder(Pool, 4, 22, selection: ShotSelection.Reference).Demonstrations(Pool[5]).Select(d => d.QuestionId));
    }

    [Fact]
    public void OursNeverShowsTheQueryImage()
    {
        var builder = new VqaPromptBuilder(Pool, 8, 21, selection: ShotSelection.Ours);
        foreach (var query in Pool)
        {
            var demos = builder.Demonstrations(query);
            Assert.Equal(8, demos.Count);
            Assert.All(demos, d => Assert.NotEqual(query.ImageId, d.ImageId));
            Assert.DoesNotContain(query.ImagePath, builder.Build(query).ImagePaths.SkipLast(1));
        }
    }

    [Fact]
    public void OpenQwen2VLStyleIsTheReleasedTemplateWithTheReferenceChatText()
    {
        var p = new VqaPromptBuilder(Pool, 1, 21, VqaPromptStyle.OpenQwen2VL, ShotSelection.Reference).Build(Pool[0]);
        var d = Pool.Single(i => i.QuestionId == p.DemonstrationQuestionIds[0]);
        const string instruction = "Answer the question using a single word or phrase.";
        // As the reference harness's prompt_builder path builds it: add_turn(human, "<image>\n{q}\n{instruction}"), add_turn(gpt, answer).
        Assert.Equal(
            "<s><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
            $"<|im_start|>user\n<image>\n{d.Question}\n{instruction}<|im_end|>assistant\n{d.MultipleChoiceAnswer}<|im_end|>\n" +
            $"<|im_start|>user\n<image>\nq1?\n{instruction}<|im_end|>assistant\n", p.Text);
        Assert.Equal(2, p.ImagePaths.Count);
    }
}
