using System.Text.Json;
using OpenQwen2VL.Evaluation.Benchmarks;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>GQA, TextVQA and POPE on tiny constructed datasets whose scores are counted by hand.</summary>
public class ShortAnswerBenchmarkTests
{
    /// <summary>A generator that answers each question from a table (the prompt text contains the question).</summary>
    private static IVqaAnswerGenerator Answers(params (string Question, string Answer)[] table) =>
        new DelegateAnswerGenerator("table", p => table.First(t => p.Text.Contains(t.Question, StringComparison.Ordinal)).Answer);

    private static void Images(TempDir dir, params string[] names)
    {
        Directory.CreateDirectory(dir.File("img"));
        foreach (var n in names) File.WriteAllBytes(Path.Combine(dir.File("img"), n), [1]);
    }

    [Fact]
    public void GqaIsExactMatchAfterLlavaNormalisation()
    {
        using var dir = new TempDir();
        Images(dir, "n1.jpg", "n2.jpg");
        File.WriteAllText(dir.File("q.json"), """
            {"1": {"imageId": "n1", "question": "Q1", "answer": "yes", "types": {"structural": "verify"}},
             "2": {"imageId": "n2", "question": "Q2", "answer": "table", "types": {"structural": "query"}},
             "3": {"imageId": "n2", "question": "Q3", "answer": "left", "types": {"structural": "query"}},
             "4": {"imageId": "n9", "question": "Q4", "answer": "no"},
             "5": {"imageId": "n1", "question": "Q5"}}
            """);
        var gqa = GqaBenchmark.Load(dir.File("q.json"), dir.File("img"));
        Assert.Equal((5, 3), (gqa.ItemsRead, gqa.Items.Count));
        Assert.Equal(1, gqa.SkippedOnLoad["image_missing"]);
        Assert.Equal(1, gqa.SkippedOnLoad["missing_field"]);
        var r = BenchmarkRunner.Run(gqa, Answers(("Q1", "Yes."), ("Q2", "the table"), ("Q3", "Left")), new BenchmarkRunOptions { Name = "g" }, dir.File("out"));
        // Yes. -> yes (right), "the table" (articles are not dropped: wrong), Left -> left (right).
        Assert.Equal(2.0 / 3, r.Headline, 12);
        Assert.Equal(1.0, r.Rows.Single(x => x.Metric == "accuracy[verify]").Value);
        Assert.Equal(0.5, r.Rows.Single(x => x.Metric == "accuracy[query]").Value);
        using var summary = JsonDocument.Parse(File.ReadAllText(dir.File("out/g_summary.json")));
        Assert.Equal("official", summary.RootElement.GetProperty("protocol").GetString());
    }

    [Fact]
    public void TextVqaIsTheLeaveOneOutMetricOnProcessedAnswers()
    {
        using var dir = new TempDir();
        Images(dir, "a1.jpg");
        string Answers10(params (int N, string A)[] parts) => JsonSerializer.Serialize(parts.SelectMany(p => Enumerable.Repeat(p.A, p.N)));
        File.WriteAllText(dir.File("t.json"), $$"""
            {"dataset_type": "val", "data": [
              {"question_id": 1, "image_id": "a1", "question": "Q1", "answers": {{Answers10((10, "Stop"))}}},
              {"question_id": 2, "image_id": "a1", "question": "Q2", "answers": {{Answers10((2, "coca cola"), (8, "pepsi"))}}},
              {"question_id": 3, "image_id": "a1", "question": "Q3", "answers": {{Answers10((3, "2"), (7, "two"))}}},
              {"question_id": 3, "image_id": "a1", "question": "dup", "answers": ["x"]}]}
            """);
        Assert.Contains("appears more than once", Assert.Throws<InvalidDataException>(() => TextVqaBenchmark.Load(dir.File("t.json"), dir.File("img"))).Message);
        File.WriteAllText(dir.File("t.json"), File.ReadAllText(dir.File("t.json")).Replace("{\"question_id\": 3, \"image_id\": \"a1\", \"question\": \"dup\", \"answers\": [\"x\"]}", "{\"question_id\": 4}"));
        var t = TextVqaBenchmark.Load(dir.File("t.json"), dir.File("img"));
        Assert.Equal(3, t.Items.Count);
        var r = BenchmarkRunner.Run(t, Answers(("Q1", "stop."), ("Q2", "Coca-Cola"), ("Q3", "Two")), new BenchmarkRunOptions());
        // Q1: "stop" matches all ten (processed) -> 1. Q2: "coca cola" matches 2 -> 0.6. Q3: all ten become "2" -> 1.
        Assert.Equal((1 + 0.6 + 1) / 3, r.Headline, 12);
    }

    [Fact]
    public void PopeMetricsEqualACountedConfusionMatrix()
    {
        using var dir = new TempDir();
        Images(dir, "c.jpg");
        var lines = new[]
        {
            """{"question_id": 1, "image": "c.jpg", "text": "Is there a dog in the image?", "label": "yes", "category": "random"}""",
            """{"question_id": 2, "image": "c.jpg", "text": "Is there a cat in the image?", "label": "no", "category": "random"}""",
            """{"question_id": 3, "image": "c.jpg", "text": "Is there a car in the image?", "label": "yes", "category": "adversarial"}""",
            """{"question_id": 4, "image": "c.jpg", "text": "Is there a cup in the image?", "label": "no", "category": "adversarial"}""",
            """{"question_id": 5, "image": "c.jpg", "text": "Is there a bus in the image?", "label": "maybe"}""",
            "not json",
        };
        File.WriteAllText(dir.File("pope.jsonl"), string.Join('\n', lines));
        var pope = PopeBenchmark.Load(dir.File("pope.jsonl"), dir.File("img"));
        Assert.Equal((6, 4), (pope.ItemsRead, pope.Items.Count));
        // dog: "Yes, there is." -> yes (TP); cat: "Yes." -> yes (FP); car: "There is not a car." -> no (FN); cup: "No" -> no (TN).
        var r = BenchmarkRunner.Run(pope, Answers(("dog", "Yes, there is."), ("cat", "Yes."), ("car", "There is not a car."), ("cup", "No")), new BenchmarkRunOptions());
        double Row(string m) => r.Rows.Single(x => x.Metric == m).Value;
        Assert.Equal(0.5, Row("accuracy"));
        Assert.Equal(0.5, Row("precision"));   // 1 / (1 + 1)
        Assert.Equal(0.5, Row("recall"));      // 1 / (1 + 1)
        Assert.Equal(0.5, Row("f1"));
        Assert.Equal(0.5, Row("yes_ratio"));
        Assert.Equal(1.0, Row("accuracy[random]") + Row("accuracy[adversarial]"));
        Assert.Equal("f1", r.Rows[0].Metric);
    }

    [Theory]
    [InlineData("Yes", "yes")]
    [InlineData("No.", "no")]
    [InlineData("no, there is none", "no")]
    [InlineData("There is not.", "no")]
    [InlineData("Yes. No.", "yes")]    // only the first sentence counts
    [InlineData("NO", "yes")]          // LLaVA looks for "No", "no" and "not" only
    public void PopeReadsAnswersAsLlava(string answer, string expected) => Assert.Equal(expected, PopeBenchmark.YesNo(answer));

    [Fact]
    public void OpenQwen2VLProtocolForcesThePlainPromptStopsAndCleansAnswers()
    {
        var p = EvaluationProtocol.OpenQwen2VL;
        Assert.Equal(VqaPromptStyle.Plain, p.Style(VqaPromptStyle.Chat));
        Assert.Equal(VqaPromptStyle.Chat, EvaluationProtocol.Official.Style(VqaPromptStyle.Chat));
        Assert.Equal([",", ".", "\n"], p.StopTexts);
        // Reference: delete every '.' and ',' and lower-case; no EvalAI processing (articles stay).
        Assert.Equal("the red car", p.Answer("The Red, car.", EvalAiAnswerProcessor.Process));
        Assert.Equal("red car", EvaluationProtocol.Official.Answer("The Red, car.", EvalAiAnswerProcessor.Process));

        string? seenPrompt = null;
        IReadOnlyList<string>? seenStops = null;
        var data = new VqaDataset
        {
            Items = [new VqaItem(1, 1, "i.jpg", "What?", "what", "other", "red", Enumerable.Repeat("red", 10).ToArray())],
            QuestionsRead = 1, Skipped = new Dictionary<string, int>(),
        };
        var r = VqaEvaluationRunner.Run(data, new DelegateAnswerGenerator("g", pr => { seenPrompt = pr.Text; seenStops = pr.StopTexts; return "Red."; }),
            new VqaEvaluationOptions { Style = VqaPromptStyle.Chat, Protocol = p });
        Assert.Equal(VqaPromptBuilder.QueryText("What?"), seenPrompt);
        Assert.Equal(p.StopTexts, seenStops);
        Assert.Equal("open-qwen2vl", r.Protocol);
        Assert.Equal(1.0, r.Accuracy);   // "red" against ten "red": unanimous, compared as written
    }
}
