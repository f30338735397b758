using System.Globalization;
using System.Text;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Evaluation.Benchmarks.Suite;

/// <summary>
/// A suite's results as <c>suite.md</c> (a Markdown table, scores in percent with two decimals), <c>suite.json</c>
/// (the same rows, scores 0-1 as computed) and <c>suite.png</c> (a bar chart of the scores in percent).
/// </summary>
public static class SuiteReport
{
    public const string Markdown = "suite.md", Json = "suite.json", Chart = "suite.png";

    public static void Write(string dir, IReadOnlyList<SuiteRow> rows)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, Markdown), MarkdownTable(rows));
        ResultFiles.WriteJson(Path.Combine(dir, Json), rows.Select(r => new
        {
            benchmark = r.Benchmark, metric = r.Metric, score = r.Score, n = r.N, skipped = r.Skipped, protocol = r.Protocol,
            prompt_format = r.PromptFormat, seconds = r.Seconds,
        }));
        SuiteChart.Save(Path.Combine(dir, Chart), rows);
    }

    public static string MarkdownTable(IReadOnlyList<SuiteRow> rows)
    {
        var sb = new StringBuilder();
        sb.Append("| benchmark | metric | score | n | skipped | protocol | prompt format | seconds |\n");
        sb.Append("|---|---|---:|---:|---:|---|---|---:|\n");
        foreach (var r in rows)
            sb.Append(CultureInfo.InvariantCulture, $"| {r.Benchmark} | {r.Metric} | {100 * r.Score:F2} | {r.N} | {r.Skipped} | {r.Protocol} | {r.PromptFormat} | {r.Seconds:F1} |\n");
        return sb.ToString();
    }
}
