using System.Globalization;
using System.Text.Json;
using OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;
using OpenQwen2VL.Evaluation.Benchmarks.Suite;
using OpenQwen2VL.Tests.Evaluation;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>`oqvl evaluate --benchmark mmbench|...` on VLMEvalKit TSVs and `--suite`, with the tiny reference VLM.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class EvaluateMultipleChoiceTests
{
    private static readonly string[] Header = ["index", "question", "hint", "A", "B", "C", "answer", "category", "image"];

    private static string[] ModelFlags() =>
        ["--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("siglip"), "--projector", ReferenceFixtures.File("projector.safetensors"),
         "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--visual-tokens", (ReferenceFixtures.PoolSizes()[0] * ReferenceFixtures.PoolSizes()[0]).ToString(CultureInfo.InvariantCulture)];

    /// <summary>Three questions (one row with an undecodable image), or MMBench-style: question 0 in three circular shifts.</summary>
    private static string Tsv(TempDir dir, string name, bool circular)
    {
        IEnumerable<string[]> rows = circular
            ? [["0", "Which colour?", "", "red", "green", "blue", "A", "colour", McTsv.Image(1)],
               ["1000000", "Which colour?", "", "blue", "red", "green", "B", "colour", "0"],
               ["2000000", "Which colour?", "", "green", "blue", "red", "C", "colour", "0"]]
            : [["1", "Which animal?", "A farm.", "cow", "pig", "hen", "A", "animals", McTsv.Image(1)],
               ["2", "Which shape?", "", "circle", "square", "", "B", "shapes", McTsv.Image(2)],
               ["3", "Which food?", "", "bread", "rice", "soup", "C", "food", Convert.ToBase64String(new byte[90])]];
        return McTsv.Write(dir.File(name), Header, rows);
    }

    private static JsonElement[] Predictions(string dir, string benchmark) =>
        File.ReadAllLines(Directory.GetFiles(dir, $"*_{benchmark}_predictions.jsonl").Single()).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    private static JsonElement Summary(string dir, string benchmark) =>
        JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(dir, $"*_{benchmark}_summary.json").Single())).RootElement;

    [Fact]
    public void ATsvRunsEndToEndAndEveryAnswerIsReadByTheRules()
    {
        using var dir = new TempDir();
        string tsv = Tsv(dir, "sqa.tsv", circular: false), outDir = dir.File("out");
        CliInvocation.Succeeds(["evaluate", "--benchmark", "scienceqa", "--data", tsv, "--out", outDir, "--prompt-format", "chatml", .. ModelFlags()]);

        var predictions = Predictions(outDir, "scienceqa");
        var summary = Summary(outDir, "scienceqa");
        // read = answered + skipped: the row with an undecodable image is a counted skip.
        Assert.Equal(2, predictions.Length);
        Assert.Equal(1, summary.GetProperty("skipped_on_load").GetProperty("image_unsupported_format").GetInt32());
        // Whatever the tiny model says, the written answer is what the matching rules read from it, scored against the key.
        using var benchmark = MultipleChoiceBenchmark.Load(tsv, McDataset.ScienceQA);
        double sum = 0;
        foreach (var p in predictions)
        {
            var item = benchmark.Items.Single(i => i.Id == p.GetProperty("id").GetString());
            string expected = OptionMatcher.Match(p.GetProperty("raw_answer").GetString()!, benchmark.Question(item).Options).Letter ?? "";
            Assert.Equal(expected, p.GetProperty("answer").GetString());
            Assert.Equal(expected == item.References[0] ? 1.0 : 0.0, p.GetProperty("score").GetDouble());
            sum += p.GetProperty("score").GetDouble();
        }
        var metrics = summary.GetProperty("metrics").EnumerateArray().ToArray();
        Assert.Equal("accuracy", metrics[0].GetProperty("metric").GetString());
        Assert.Equal(sum / predictions.Length, metrics[0].GetProperty("value").GetDouble(), 12);
        Assert.Contains(metrics, m => m.GetProperty("metric").GetString() == "unmatched");
    }

    [Fact]
    public void MultipleChoiceFlagsAreCheckedAsOneLineErrors()
    {
        using var dir = new TempDir();
        string tsv = Tsv(dir, "m.tsv", circular: true);
        Assert.Contains("inline", CliInvocation.UserError(["evaluate", "--benchmark", "mmbench", "--data", tsv, "--images", dir.Path, .. ModelFlags()]));
        Assert.Contains("--data", CliInvocation.UserError(["evaluate", "--benchmark", "mmstar", .. ModelFlags()]));
        File.WriteAllText(dir.File("bad.tsv"), "index\tquestion\n1\tq\n");
        Assert.Contains("bad.tsv", CliInvocation.UserError(["evaluate", "--benchmark", "ai2d", "--data", dir.File("bad.tsv"), .. ModelFlags()]));
    }

    [Fact]
    public void ASuiteWritesMarkdownJsonAndChartThatAgree()
    {
        using var dir = new TempDir();
        Tsv(dir, "mmb.tsv", circular: true);
        Tsv(dir, "ai2d.tsv", circular: false);
        File.WriteAllText(dir.File("suite.json"), """
            {"benchmarks": [
              {"benchmark": "mmbench", "data": "mmb.tsv"},
              {"benchmark": "ai2d", "data": "ai2d.tsv", "protocol": "open-qwen2vl", "limit": 1}]}
            """);
        string outDir = dir.File("out");
        CliInvocation.Succeeds(["evaluate", "--suite", dir.File("suite.json"), "--out", outDir, "--prompt-format", "chatml", .. ModelFlags()]);

        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, SuiteReport.Json))).RootElement.EnumerateArray().ToArray();
        var markdown = File.ReadAllLines(Path.Combine(outDir, SuiteReport.Markdown)).Skip(2).Select(l => l.Split('|').Select(c => c.Trim()).ToArray()).ToArray();
        Assert.Equal(["mmbench", "ai2d"], json.Select(r => r.GetProperty("benchmark").GetString()));
        Assert.Equal(2, markdown.Length);
        for (int i = 0; i < json.Length; i++)
        {
            var r = json[i];
            string benchmark = r.GetProperty("benchmark").GetString()!;
            // The table's score is the benchmark's own headline, and Markdown shows the JSON's value in percent.
            var headline = Summary(outDir, benchmark).GetProperty("metrics")[0];
            Assert.Equal(headline.GetProperty("value").GetDouble(), r.GetProperty("score").GetDouble());
            Assert.Equal(headline.GetProperty("metric").GetString(), r.GetProperty("metric").GetString());
            Assert.Equal(new[] { benchmark, r.GetProperty("metric").GetString()!, (100 * r.GetProperty("score").GetDouble()).ToString("F2", CultureInfo.InvariantCulture),
                r.GetProperty("n").GetInt32().ToString(CultureInfo.InvariantCulture), r.GetProperty("skipped").GetInt32().ToString(CultureInfo.InvariantCulture),
                r.GetProperty("protocol").GetString()!, r.GetProperty("prompt_format").GetString()! }, markdown[i][1..8]);
        }
        // MMBench: one circular group of 3 shifts; AI2D: limit 1, one row skipped on load, plain prompt forced by its protocol.
        Assert.Equal(("circular_accuracy", 1, 0), (json[0].GetProperty("metric").GetString(), json[0].GetProperty("n").GetInt32(), json[0].GetProperty("skipped").GetInt32()));
        Assert.Equal((1, 1, "open-qwen2vl", "plain"), (json[1].GetProperty("n").GetInt32(), json[1].GetProperty("skipped").GetInt32(),
            json[1].GetProperty("protocol").GetString(), json[1].GetProperty("prompt_format").GetString()));
        Assert.Equal("chatml", json[0].GetProperty("prompt_format").GetString());
        var png = File.ReadAllBytes(Path.Combine(outDir, SuiteReport.Chart));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
    }

    [Fact]
    public void ASuiteFileIsCheckedBeforeAnythingRuns()
    {
        using var dir = new TempDir();
        Tsv(dir, "mmb.tsv", circular: true);
        string Error(string json)
        {
            File.WriteAllText(dir.File("s.json"), json);
            string line = CliInvocation.UserError(["evaluate", "--suite", dir.File("s.json"), "--out", dir.File("o"), .. ModelFlags()]);
            Assert.Contains("s.json", line);
            return line;
        }
        Assert.Contains("unknown benchmark", Error("""{"benchmarks": [{"benchmark": "mmmu", "data": "mmb.tsv"}]}"""));
        Assert.Contains("needs \"images\"", Error("""{"benchmarks": [{"benchmark": "pope", "data": "mmb.tsv"}]}"""));
        Assert.Contains("inline", Error("""{"benchmarks": [{"benchmark": "mmbench", "data": "mmb.tsv", "images": "."}]}"""));
        Assert.Contains("\"limit\"", Error("""{"benchmarks": [{"benchmark": "mmbench", "data": "mmb.tsv", "limit": 0}]}"""));
        Assert.Contains("unknown key", Error("""{"benchmarks": [{"benchmark": "mmbench", "data": "mmb.tsv", "shots": 8}]}"""));
        Assert.Contains("not found", Error("""{"benchmarks": [{"benchmark": "mmbench", "data": "none.tsv"}]}"""));
        Assert.Contains("protocol", Error("""{"benchmarks": [{"benchmark": "mmbench", "data": "mmb.tsv", "protocol": "lmms"}]}"""));
        Assert.Contains("no benchmarks", Error("""{"benchmarks": []}"""));
        Assert.False(Directory.Exists(dir.File("o")));
        Assert.Contains("--suite", CliInvocation.UserError(["evaluate", "--suite", dir.File("s.json"), "--benchmark", "gqa", "--out", dir.File("o"), .. ModelFlags()]));
    }
}
