using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenQwen2VL.Cli;
using OpenQwen2VL.Cli.Commands;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Evaluation.Benchmarks;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>`oqvl evaluate --llm ...`: a VLM from HF folders answers VQAv2 questions as `oqvl generate --chat` would.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class EvaluateCommandTests
{
    private static (int Rc, string Out, string Err) Invoke(params string[] args) => CliInvocation.Invoke(args);

    /// <summary>A synthetic VQAv2-style split of one image with <paramref name="questions"/> questions.</summary>
    private static SyntheticDatasetLayout EvalSplit(TempDir dir, int questions, int images = 1) =>
        SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions
        {
            Seed = 5, PretrainPairs = 1, SftRecords = 0, EvalImages = images, QuestionsPerEvalImage = questions, ImageSize = 32,
        }), Path.Combine(dir.Path, "data"));

    private static string[] ModelFlags() =>
        ["--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("siglip"), "--projector", ReferenceFixtures.File("projector.safetensors"),
         "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--visual-tokens", (ReferenceFixtures.PoolSizes()[0] * ReferenceFixtures.PoolSizes()[0]).ToString(CultureInfo.InvariantCulture)];

    [Fact]
    public void ModelAnswersEqualGenerateWithTheSameChatPrompt()
    {
        using var dir = new TempDir();
        var layout = EvalSplit(dir, questions: 2);
        string[] model = ModelFlags();
        string outDir = Path.Combine(dir.Path, "eval");
        var (rc, _, error) = Invoke(["evaluate", "--questions", layout.EvalQuestions, "--annotations", layout.EvalAnnotations,
            "--images", layout.EvalImageRoot, "--out", outDir, "--prompt-format", "chatml", .. model]);
        Assert.Equal(0, rc);
        Assert.Contains("loaded", error);

        var predictions = File.ReadAllLines(Directory.GetFiles(outDir, "*_predictions.jsonl").Single()).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, predictions.Length);
        foreach (var p in predictions)
        {
            string question = p.GetProperty("question").GetString()!;
            var (grc, output, _) = Invoke(["generate", .. model, "--prompt-format", "chatml", "--image", p.GetProperty("image").GetString()!,
                "--prompt", $"<image>\nQuestion: {question}\n{VqaPromptBuilder.Instruction}", "--max-new-tokens", "16"]);
            Assert.Equal(0, grc);
            string generated = output.TrimEnd('\n');
            // Both decode greedily from the same ids; `generate` may run on past <|endofchunk|>, which evaluation stops at.
            string raw = p.GetProperty("raw_answer").GetString()!;
            Assert.StartsWith(raw, generated);
            Assert.Equal(EvaluationProtocol.Official.Answer(raw, EvalAiAnswerProcessor.Process), p.GetProperty("answer").GetString());
        }
    }

    [Fact]
    public void ModelFlagsAreCheckedAsOneLineErrors()
    {
        using var dir = new TempDir();
        var layout = EvalSplit(dir, questions: 1);
        string[] data = ["evaluate", "--questions", layout.EvalQuestions, "--annotations", layout.EvalAnnotations, "--images", layout.EvalImageRoot];
        Assert.Contains("--vision", CliInvocation.UserError([.. data, "--llm", ReferenceFixtures.File("qwen2")]));
        Assert.Contains("exactly one", CliInvocation.UserError([.. data, "--baseline", "majority", "--llm", ReferenceFixtures.File("qwen2"),
            "--vision", ReferenceFixtures.File("siglip")]));
        Assert.Contains("--prompt-format", CliInvocation.UserError([.. data, "--baseline", "majority", "--prompt-format", "poem"]));
        Assert.Contains("folder not found", CliInvocation.UserError([.. data, "--llm", Path.Combine(dir.Path, "nope"),
            "--vision", ReferenceFixtures.File("siglip"), "--projector", ReferenceFixtures.File("projector.safetensors")]));
        Assert.Contains("--data", CliInvocation.UserError([.. data, "--data", layout.Root, "--baseline", "majority"]));
    }

    [Fact]
    public void DataFolderOfSynthGivesTheSameSplitAsTheThreePaths()
    {
        using var dir = new TempDir();
        var layout = EvalSplit(dir, questions: 2, images: 2);
        string a = Path.Combine(dir.Path, "a"), b = Path.Combine(dir.Path, "b");
        var (rc1, _, _) = Invoke("evaluate", "--data", layout.Root, "--baseline", "majority-per-type", "--out", a);
        var (rc2, _, _) = Invoke("evaluate", "--questions", layout.EvalQuestions, "--annotations", layout.EvalAnnotations, "--images", layout.EvalImageRoot,
            "--baseline", "majority-per-type", "--out", b);
        Assert.Equal((0, 0), (rc1, rc2));
        string Predictions(string d) => File.ReadAllText(Directory.GetFiles(d, "*_predictions.jsonl").Single());
        Assert.Equal(4, Predictions(a).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(Predictions(b), Predictions(a));
    }

    [Fact]
    public void AnUnreadableImageSkipsItsQuestionWithACountedReason()
    {
        using var dir = new TempDir();
        var layout = EvalSplit(dir, questions: 1, images: 3);
        var files = Directory.GetFiles(layout.EvalImageRoot).Order(StringComparer.Ordinal).ToArray();
        File.WriteAllBytes(files[1], File.ReadAllBytes(files[1])[..20]); // a JPEG cut off after its first bytes
        string outDir = Path.Combine(dir.Path, "eval");
        string[] data = ["evaluate", "--questions", layout.EvalQuestions, "--annotations", layout.EvalAnnotations, "--images", layout.EvalImageRoot];
        var (rc, _, _) = Invoke([.. data, "--out", outDir, "--prompt-format", "chatml", .. ModelFlags()]);
        Assert.Equal(0, rc);

        // asked = answered + skipped, and the skipped question is the one on the broken image.
        var predictions = File.ReadAllLines(Directory.GetFiles(outDir, "*_predictions.jsonl").Single()).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, predictions.Length);
        Assert.DoesNotContain(predictions, p => p.GetProperty("image").GetString() == files[1]);
        using var summary = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(outDir, "*_summary.json").Single()));
        var skipped = summary.RootElement.GetProperty("skipped").EnumerateObject().ToArray();
        Assert.Equal(1, skipped.Sum(p => p.Value.GetInt32()));
        Assert.StartsWith("image_", skipped.Single().Name);

        // Nothing answerable: a one-line error, not a stack trace.
        foreach (var f in files) File.WriteAllBytes(f, [1, 2, 3]);
        Assert.Contains("no question could be asked", CliInvocation.Failure(2, afterProgress: true, [.. data, .. ModelFlags()]));
    }

    [Fact]
    public void AResultsFileWeWriteScoresBackToTheSameOfficialSummary()
    {
        using var dir = new TempDir();
        var layout = EvalSplit(dir, questions: 3, images: 2);
        string[] split = ["evaluate", "--questions", layout.EvalQuestions, "--annotations", layout.EvalAnnotations, "--images", layout.EvalImageRoot];
        string a = Path.Combine(dir.Path, "a"), b = Path.Combine(dir.Path, "b");
        Assert.Equal(0, Invoke([.. split, "--baseline", "majority-per-type", "--out", a]).Rc);
        string results = Directory.GetFiles(a, "*_results.json").Single();
        Assert.Equal(0, Invoke([.. split, "--results", results, "--out", b]).Rc);
        JsonElement Official(string d) => JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(d, "*_summary.json").Single())).RootElement.GetProperty("official");
        Assert.Equal(Official(a).GetRawText(), Official(b).GetRawText());

        // A results file that misses a question, or answers one twice, is refused in one line.
        var rows = JsonDocument.Parse(File.ReadAllText(results)).RootElement.EnumerateArray().Select(e => e.GetRawText()).ToArray();
        File.WriteAllText(results, "[" + string.Join(",", rows.Skip(1)) + "]");
        Assert.Contains("no answer for 1", CliInvocation.UserError([.. split, "--results", results]));
        File.WriteAllText(results, "[" + string.Join(",", rows.Append(rows[0])) + "]");
        Assert.Contains("more than once", CliInvocation.UserError([.. split, "--results", results]));
        Assert.Contains("--benchmark vqav2", CliInvocation.UserError([.. split, "--benchmark", "gqa", "--results", results]));
        Assert.Contains("--protocol", CliInvocation.UserError([.. split, "--baseline", "majority", "--protocol", "lmms"]));
    }

    [Fact]
    public void VqaV2InASuiteScoresAsTheVqaV2Command()
    {
        // The suite's VQAv2 (the IBenchmark adapter) and `--benchmark vqav2` (its own runner) on one split: same accuracy.
        using var dir = new TempDir();
        var layout = EvalSplit(dir, questions: 3, images: 2);
        string single = Path.Combine(dir.Path, "single"), suite = Path.Combine(dir.Path, "suite");
        CliInvocation.Succeeds(["evaluate", "--data", layout.Root, "--out", single, "--prompt-format", "chatml", .. ModelFlags()]);
        File.WriteAllText(Path.Combine(dir.Path, "suite.json"), """
            {"benchmarks": [{"benchmark": "vqav2", "data": "data"},
                            {"benchmark": "vqav2", "data": "data/eval/questions.json", "annotations": "data/eval/annotations.json", "images": "data/eval/images"}]}
            """);
        CliInvocation.Succeeds(["evaluate", "--suite", Path.Combine(dir.Path, "suite.json"), "--out", suite, "--prompt-format", "chatml", .. ModelFlags()]);

        using var summary = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(single, "*_summary.json").Single()));
        double expected = summary.RootElement.GetProperty("accuracy").GetDouble();
        var rows = JsonDocument.Parse(File.ReadAllText(Path.Combine(suite, OpenQwen2VL.Evaluation.Benchmarks.Suite.SuiteReport.Json))).RootElement.EnumerateArray().ToArray();
        Assert.Equal(2, rows.Length);
        foreach (var row in rows)
        {
            Assert.Equal("vqav2", row.GetProperty("benchmark").GetString());
            Assert.Equal(6, row.GetProperty("n").GetInt32());
            Assert.Equal(expected, row.GetProperty("score").GetDouble(), 12);
        }
    }
}
