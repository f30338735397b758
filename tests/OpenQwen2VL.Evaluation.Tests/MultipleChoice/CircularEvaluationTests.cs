using System.Globalization;
using OpenQwen2VL.Evaluation.Benchmarks;
using OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>
/// MMBench's circular evaluation (VLMEvalKit mcq_circular_eval with exact matching): rows sharing index % 1e6 are the
/// circular shifts of one question; the question counts only if every shift is answered correctly.
/// </summary>
public class CircularEvaluationTests
{
    private static readonly string[] Header = ["index", "question", "A", "B", "C", "D", "answer", "category", "l2-category", "image"];

    /// <summary>Question q (0 or 1) in 4 shifts: the options rotate, so the right letter moves A, B, C, D.</summary>
    private static IEnumerable<string[]> Shifts(int q, string category, string image)
    {
        string[] texts = [$"right{q}", $"wrong{q}a", $"wrong{q}b", $"wrong{q}c"];
        for (int s = 0; s < 4; s++)
        {
            var rotated = Enumerable.Range(0, 4).Select(k => texts[(k - s + 4) % 4]).ToArray();
            string index = (s * 1_000_000 + q).ToString(CultureInfo.InvariantCulture);
            // The shifts reuse the main row's image by its index, as MMBench's TSVs do.
            yield return [index, $"Question {q}?", .. rotated, ((char)('A' + s)).ToString(), category, "perception", s == 0 ? image : q.ToString(CultureInfo.InvariantCulture)];
        }
    }

    [Fact]
    public void AQuestionScoresOnlyWhenAllItsShiftsAreRight()
    {
        using var dir = new TempDir();
        // Rows in file order main rows last, to check grouping does not depend on order.
        var rows = Shifts(0, "color", McTsv.Image(1)).Concat(Shifts(1, "shape", McTsv.Image(2))).Reverse();
        string tsv = McTsv.Write(dir.File("mmb.tsv"), Header, rows);
        using var mmb = MultipleChoiceBenchmark.Load(tsv, McDataset.MMBench);
        Assert.Equal((8, 8), (mmb.ItemsRead, mmb.Items.Count));

        // Question 0 always picks its right option's text; question 1 is right except in its shift 2 (index 2000001).
        var generator = new DelegateAnswerGenerator("table", p =>
        {
            var options = p.Text.Split('\n').Where(l => l.Length > 3 && l[1] == '.' && l[2] == ' ').ToArray();
            string right = options.Single(l => l.Contains("right", StringComparison.Ordinal))[..1];
            return p.Text.Contains("Question 1?") && right == "C" ? "A" : $"({right})";
        });
        var result = BenchmarkRunner.Run(mmb, generator, new BenchmarkRunOptions { Name = "mmb" });
        Assert.Equal("circular_accuracy", result.Rows[0].Metric);
        Assert.Equal((0.5, 2), (result.Rows[0].Value, result.Rows[0].Count));
        Assert.Equal(1.0, result.Rows.Single(r => r.Metric == "circular_accuracy[category=color]").Value);
        Assert.Equal(0.0, result.Rows.Single(r => r.Metric == "circular_accuracy[category=shape]").Value);
        Assert.Equal(0.5, result.Rows.Single(r => r.Metric == "circular_accuracy[l2-category=perception]").Value);
        Assert.Equal(7.0 / 8, result.Rows.Single(r => r.Metric == "vanilla_accuracy").Value);
        Assert.Equal(0.0, result.Rows.Single(r => r.Metric == "unmatched").Value);
        // Every shift was asked, and with the main row's image.
        Assert.Equal(2, result.Predictions.Select(p => p.Item.ImagePaths.Single()).Distinct().Count());
    }

    [Fact]
    public void AnUnmatchedShiftFailsItsQuestionAndIsCounted()
    {
        using var dir = new TempDir();
        string tsv = McTsv.Write(dir.File("mmb.tsv"), Header, Shifts(0, "color", McTsv.Image(1)));
        using var mmb = MultipleChoiceBenchmark.Load(tsv, McDataset.MMBench);
        // Right everywhere but one shift, where the answer names no option.
        var generator = new DelegateAnswerGenerator("t", p => p.Text.Contains("D. right0") ? "I am not sure" : p.Text.Split('\n').First(l => l.Contains("right0"))[..1]);
        var result = BenchmarkRunner.Run(mmb, generator, new BenchmarkRunOptions { Name = "mmb" });
        Assert.Equal(0.0, result.Headline);
        Assert.Equal(0.25, result.Rows.Single(r => r.Metric == "unmatched").Value);
        Assert.Equal("", result.Predictions.Single(p => p.Item.Id == "3000000").Answer);
    }

    [Fact]
    public void LimitTakesWholeGroupsAndAGroupNeedsItsMainRow()
    {
        using var dir = new TempDir();
        var rows = Shifts(0, "color", McTsv.Image(1)).Concat(Shifts(1, "shape", McTsv.Image(2)).Skip(1).Select(r => { r[^1] = McTsv.Image(3); return r; }));
        string tsv = McTsv.Write(dir.File("mmb.tsv"), Header, rows);
        using var mmb = MultipleChoiceBenchmark.Load(tsv, McDataset.MMBench);
        var always = new DelegateAnswerGenerator("t", p => p.Text.Split('\n').First(l => l.Contains("right"))[..1]);
        // --limit 4: exactly question 0's four shifts (grouped, main first).
        var limited = BenchmarkRunner.Run(mmb, always, new BenchmarkRunOptions { Name = "m", Limit = 4 });
        Assert.Equal(["0", "1000000", "2000000", "3000000"], limited.Predictions.Select(p => p.Item.Id));
        // Question 1 has no main row (index 1): VLMEvalKit reports only groups whose main row is there.
        var all = BenchmarkRunner.Run(mmb, always, new BenchmarkRunOptions { Name = "m" });
        Assert.Equal((1.0, 1), (all.Headline, all.Rows[0].Count));
        Assert.Equal(7, all.Rows.Single(r => r.Metric == "vanilla_accuracy").Count);
    }
}
