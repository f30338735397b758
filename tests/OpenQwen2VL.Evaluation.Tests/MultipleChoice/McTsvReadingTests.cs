using OpenQwen2VL.Evaluation.Benchmarks;
using OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>VLMEvalKit MC TSVs: the reader on crafted bad rows (read = items + skipped), pandas' cell rules, and the prompt.</summary>
public class McTsvReadingTests
{
    private static readonly string[] Header = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image"];

    private static string[] Row(string index, string image, string answer = "A", string a = "cat", string b = "dog", string c = "", string d = "", string hint = "") =>
        [index, $"What is shown {index}?", hint, a, b, c, d, answer, "animals", image];

    [Fact]
    public void TheReaderSplitsAsPandasDoes()
    {
        using var dir = new TempDir();
        // A quoted field with a tab, a line break and a doubled quote; a blank line; CRLF; a short row padded with NA.
        File.WriteAllText(dir.File("t.tsv"), "a\tb\tc\r\n\"x\ty\nz \"\"q\"\"\"\t2\t3\r\n\n1\t\"\"\n4\t5\t6\t7\nlong\tfield\tis very long\n");
        var (header, rows) = new TsvReader(1 << 20, maxFieldChars: 10).Open(dir.File("t.tsv"), "a test TSV");
        Assert.Equal(["a", "b", "c"], header);
        var all = rows.ToArray();
        Assert.Equal(["x\ty\nz \"q\"", "2", "3"], all[0].Fields);
        Assert.Equal(["1", "", ""], all[1].Fields);
        Assert.Equal("too_many_fields", all[2].SkipReason);
        Assert.Equal("field_too_large", all[3].SkipReason);
        Assert.Equal([2, 5, 6, 7], all.Select(r => r.Line));
    }

    [Fact]
    public void BadRowsAreCountedSkipsWithReasons()
    {
        using var dir = new TempDir();
        string tooLarge = Convert.ToBase64String(new byte[600]);
        string notAnImage = Convert.ToBase64String(new byte[100]);
        var rows = new[]
        {
            Row("1", McTsv.Image(1)),                            // good
            Row("2", "1", answer: "B"),                           // good: reuses row 1's image
            Row("3", "99"),                                       // reference to no row
            Row("4", new string('!', 80)),                        // not base64
            Row("5", tooLarge),                                   // over the 512-byte cap of this test
            Row("6", notAnImage),                                 // decodes, but is no image
            Row("7", McTsv.Image(2), answer: "C"),                // the answer is not one of the options
            Row("8", McTsv.Image(2), answer: ""),                 // no answer
            Row("9", McTsv.Image(2), a: "", b: "None"),           // no options ("None" is NA to pandas)
            Row("10", ""),                                        // no image
            Row("11", McTsv.Image(2) + "\textra"),                // one field too many
        };
        string tsv = McTsv.Write(dir.File("b.tsv"), Header, rows);
        using var mc = MultipleChoiceBenchmark.Load(tsv, McDataset.AI2D, new McTsvLimits { MaxImageBytes = 512 });
        Assert.Equal(["1", "2"], mc.Items.Select(i => i.Id));
        Assert.Equal(mc.ItemsRead, mc.Items.Count + mc.SkippedOnLoad.Values.Sum());
        Assert.Equal(new SortedDictionary<string, int>
        {
            ["image_reference_unresolved"] = 1, ["image_not_base64"] = 1, ["image_too_large"] = 1, ["image_unsupported_format"] = 1,
            ["answer_not_an_option"] = 1, ["missing_answer"] = 1, ["no_options"] = 1, ["missing_image"] = 1, ["too_many_fields"] = 1,
        }, new SortedDictionary<string, int>(mc.SkippedOnLoad.ToDictionary()));
        Assert.Equal(mc.Items[0].ImagePaths, mc.Items[1].ImagePaths);
        Assert.Equal(File.ReadAllBytes(mc.Items[0].ImagePaths[0]), Convert.FromBase64String(McTsv.Image(1)));
    }

    [Fact]
    public void WholeFileProblemsAreOneLineNamingTheFile()
    {
        using var dir = new TempDir();
        string Load(string text, McTsvLimits? limits = null)
        {
            File.WriteAllText(dir.File("x.tsv"), text);
            var e = Assert.Throws<InvalidDataException>(() => MultipleChoiceBenchmark.Load(dir.File("x.tsv"), McDataset.MMStar, limits));
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains(dir.File("x.tsv"), e.Message);
            return e.Message;
        }
        Assert.Contains("too large", Load(new string('x', 2000), new McTsvLimits { MaxFileBytes = 1000 }));
        Assert.Contains("empty file", Load(""));
        Assert.Contains("\"image\"", Load("index\tquestion\tA\tanswer\n1\tq\ta\tA\n"));
        Assert.Contains("\"answer\"", Load("index\tquestion\tA\timage\n1\tq\ta\tx\n"));
        Assert.Contains("appears more than once", Load(McTsv.Text(Header, [Row("1", McTsv.Image()), Row("1", McTsv.Image())])));
        Assert.Contains("file not found", Assert.Throws<InvalidDataException>(() => MultipleChoiceBenchmark.Load(dir.File("none.tsv"), McDataset.MMStar)).Message);
    }

    [Fact]
    public void ThePromptIsVlmEvalKitsBuildPrompt()
    {
        using var dir = new TempDir();
        // Column D is all numbers with a missing cell: pandas reads it as float, so "3" is shown "3.0".
        var rows = new[] { Row("1", McTsv.Image(), a: "cat", b: "dog", c: "NA", d: "3", hint: "Look closely."), Row("2", McTsv.Image(), d: "") };
        string tsv = McTsv.Write(dir.File("p.tsv"), Header, rows);
        using var mc = MultipleChoiceBenchmark.Load(tsv, McDataset.ScienceQA);
        // build_prompt: f'Hint: {hint}\n', f'Question: {question}\n', 'Options:\n', f'{key}. {item}\n' per option
        // (pd.isna drops "NA"), 'Please select the correct answer from the options above. \n'.
        Assert.Equal("<image>\nHint: Look closely.\nQuestion: What is shown 1?\nOptions:\nA. cat\nB. dog\nD. 3.0\nPlease select the correct answer from the options above. \n",
            mc.PromptText(mc.Items[0], VqaPromptStyle.Plain));
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\nQuestion: What is shown 2?\nOptions:\nA. cat\nB. dog\nPlease select the correct answer from the options above. \n<|im_end|>\n<|im_start|>assistant\n",
            mc.PromptText(mc.Items[1], VqaPromptStyle.Chat));
    }

    [Fact]
    public void PythonFloatReprMatchesPython()
    {
        // Values printed by CPython 3 repr().
        Assert.Equal("3.0", PythonFloat.Repr(3));
        Assert.Equal("0.1", PythonFloat.Repr(0.1));
        Assert.Equal("0.0001", PythonFloat.Repr(0.0001));
        Assert.Equal("1e-05", PythonFloat.Repr(0.00001));
        Assert.Equal("1234567890123456.0", PythonFloat.Repr(1234567890123456));
        Assert.Equal("1e+16", PythonFloat.Repr(1e16));
        Assert.Equal("-2.5", PythonFloat.Repr(-2.5));
        Assert.Equal("100.0", PythonFloat.Repr(100));
    }

    [Fact]
    public void DisposeDeletesTheDecodedImages()
    {
        using var dir = new TempDir();
        string tsv = McTsv.Write(dir.File("d.tsv"), Header, [Row("1", McTsv.Image())]);
        var mc = MultipleChoiceBenchmark.Load(tsv, McDataset.SeedBench);
        string image = mc.Items[0].ImagePaths[0];
        Assert.True(File.Exists(image));
        mc.Dispose();
        Assert.False(Directory.Exists(Path.GetDirectoryName(image)));
    }

    [Fact]
    public void AnswersAreScoredAgainstTheRowsOptions()
    {
        using var dir = new TempDir();
        string tsv = McTsv.Write(dir.File("s.tsv"), Header, [Row("1", McTsv.Image()), Row("2", McTsv.Image(), answer: "B"), Row("3", McTsv.Image(), answer: "B")]);
        using var mc = MultipleChoiceBenchmark.Load(tsv, McDataset.SeedBench);
        var answers = new Dictionary<string, string> { ["1"] = "A. cat", ["2"] = "The answer is a cat", ["3"] = "hmm" };
        var r = BenchmarkRunner.Run(mc, new DelegateAnswerGenerator("t", p => answers[p.Text.Split("What is shown ")[1][..1]]), new BenchmarkRunOptions { Name = "s", Protocol = EvaluationProtocol.OpenQwen2VL });
        Assert.Equal(["A", "A", ""], r.Predictions.Select(p => p.Answer));
        Assert.Equal((1.0 / 3, 3), (r.Headline, r.Rows[0].Count));
        Assert.Equal(1.0 / 3, r.Rows.Single(x => x.Metric == "unmatched").Value);
        Assert.Equal(1.0 / 3, r.Rows.Single(x => x.Metric == "accuracy[category=animals]").Value);
    }
}
