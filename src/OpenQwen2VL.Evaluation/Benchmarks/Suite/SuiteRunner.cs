using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks.Suite;

/// <summary>The generator for one protocol: what answers, in which prompt style, and that style's name for the table.</summary>
public sealed record SuiteGenerator(IVqaAnswerGenerator Generator, VqaPromptStyle Style, string PromptFormat);

/// <summary>
/// Runs a suite's benchmarks one after the other with one model (through <see cref="BenchmarkRunner"/>, each writing
/// its predictions and summary into the output folder), then writes the suite table (<see cref="SuiteReport"/>).
/// </summary>
public static class SuiteRunner
{
    /// <param name="generatorFor">the generator for a protocol (a protocol may force the plain prompt style)</param>
    public static IReadOnlyList<SuiteRow> Run(IReadOnlyList<SuiteEntry> entries, Func<EvaluationProtocol, SuiteGenerator> generatorFor,
        string outDir, TextWriter? log = null, int batchSize = 8)
    {
        var rows = new List<SuiteRow>();
        foreach (var entry in entries)
        {
            var g = generatorFor(entry.Protocol);
            var benchmark = BenchmarkCatalog.Load(entry.Benchmark, entry.Data, entry.Images, entry.Annotations);
            try
            {
                if (benchmark.Items.Count == 0)
                    throw new InvalidDataException($"{entry.Data}: no usable items ({string.Join(", ", benchmark.SkippedOnLoad.Select(kv => $"{kv.Key}: {kv.Value}"))})");
                log?.WriteLine($"{entry.Benchmark}: {Math.Min(benchmark.Items.Count, entry.Limit ?? int.MaxValue)} items, protocol {entry.Protocol.Name}");
                var result = BenchmarkRunner.Run(benchmark, g.Generator, new BenchmarkRunOptions
                {
                    Name = $"{g.Generator.Name}_{benchmark.Name}", Protocol = entry.Protocol, Style = g.Style, Limit = entry.Limit, BatchSize = batchSize,
                }, outDir);
                var head = result.Rows[0];
                rows.Add(new SuiteRow(benchmark.Name, head.Metric, head.Value, head.Count,
                    benchmark.SkippedOnLoad.Values.Sum() + result.Skipped.Values.Sum(), result.Protocol, g.PromptFormat, result.Seconds));
            }
            finally { (benchmark as IDisposable)?.Dispose(); }
        }
        SuiteReport.Write(outDir, rows);
        return rows;
    }
}
