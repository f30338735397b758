using System.Text.Json;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>Parity with the official VQAv2 evaluator (vqaEval.py) on cases whose values it computed (Data/README.md).</summary>
public class OfficialVqaMetricTests
{
    private static JsonElement Table(string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", name))).RootElement;

    private static readonly JsonElement Cases = Table("vqav2_official_cases.json");

    public static TheoryData<int> CaseIndices() => new(Enumerable.Range(0, Cases.GetProperty("cases").GetArrayLength()));

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void PerQuestionAccuracyEqualsTheOfficialCode(int index)
    {
        var c = Cases.GetProperty("cases")[index];
        var answers = c.GetProperty("answers").EnumerateArray().Select(a => a.GetString()!).ToArray();
        double ours = VqaAccuracy.OfficialPercent(VqaAccuracy.Score(c.GetProperty("prediction").GetString()!, answers));
        Assert.True(c.GetProperty("official_accuracy").GetDouble() == ours, $"{c.GetProperty("note").GetString()}: official {c.GetProperty("official_accuracy")} ours {ours}");
    }

    [Fact]
    public void ResultsFileSummaryEqualsTheOfficialCode()
    {
        using var dir = new TempDir();
        var cases = Cases.GetProperty("cases").EnumerateArray().ToArray();
        File.WriteAllText(dir.File("q.json"), JsonSerializer.Serialize(new
        {
            questions = cases.Select(c => new { question_id = c.GetProperty("question_id").GetInt64(), image_id = 7, question = "q?" }),
        }));
        File.WriteAllText(dir.File("a.json"), JsonSerializer.Serialize(new
        {
            annotations = cases.Select(c => new
            {
                question_id = c.GetProperty("question_id").GetInt64(), image_id = 7,
                question_type = c.GetProperty("question_type").GetString(), answer_type = c.GetProperty("answer_type").GetString(),
                answers = c.GetProperty("answers").EnumerateArray().Select((a, i) => new { answer = a.GetString(), answer_confidence = "yes", answer_id = i + 1 }),
            }),
        }));
        File.WriteAllText(dir.File("r.json"), JsonSerializer.Serialize(cases.Select(c => new { question_id = c.GetProperty("question_id").GetInt64(), answer = c.GetProperty("prediction").GetString() })));

        // No image folder: scoring a results file reads no image.
        var data = VqaDataset.Load(dir.File("q.json"), dir.File("a.json"), dir.File("no-images"), requireImages: false);
        var answers = VqaResultsFile.Read(dir.File("r.json"));
        VqaResultsFile.RequireSameQuestions(dir.File("r.json"), answers, data.Items.Select(i => i.QuestionId));
        var result = VqaEvaluationRunner.Run(data, new DelegateAnswerGenerator("results", p => answers[p.QueryQuestionId]),
            new VqaEvaluationOptions { Name = "r", ProcessAnswers = false }, dir.File("out"));

        Assert.Equal(Cases.GetProperty("overall").GetDouble(), result.OfficialOverall);
        foreach (var (key, ours) in new[] { ("per_question_type", result.OfficialPerQuestionType), ("per_answer_type", result.OfficialPerAnswerType) })
        {
            var official = Cases.GetProperty(key).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
            Assert.Equal(official.OrderBy(p => p.Key), ours.OrderBy(p => p.Key));
        }
        // The summary written beside the results file carries the same official numbers.
        using var summary = JsonDocument.Parse(File.ReadAllText(dir.File("out/r_summary.json")));
        Assert.Equal(Cases.GetProperty("overall").GetDouble(), summary.RootElement.GetProperty("official").GetProperty("overall").GetDouble());
        // ...and the results file written is the one scored: the answers exactly as given.
        using var written = JsonDocument.Parse(File.ReadAllText(dir.File("out/r_results.json")));
        Assert.All(written.RootElement.EnumerateArray(), e => Assert.Equal(answers[e.GetProperty("question_id").GetInt64()], e.GetProperty("answer").GetString()));
    }

    [Fact]
    public void EvalAiProcessorEqualsLmmsEval()
    {
        foreach (var c in Table("evalai_answer_processor_cases.json").EnumerateArray())
            Assert.Equal(c.GetProperty("processed").GetString(), EvalAiAnswerProcessor.Process(c.GetProperty("input").GetString()!));
    }

    [Theory]
    [InlineData(2.675, 2, 2.67)]    // the binary value is below the tie
    [InlineData(0.125, 2, 0.12)]    // exact tie: half to even
    [InlineData(0.375, 2, 0.38)]
    [InlineData(80.525, 2, 80.53)]  // binary value above the tie
    [InlineData(30.000000000000004, 2, 30.0)]
    public void RoundsAsPython3(double x, int digits, double expected) => Assert.Equal(expected, PythonText.Round(x, digits));
}
