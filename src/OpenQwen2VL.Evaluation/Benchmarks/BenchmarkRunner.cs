using System.Diagnostics;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Model.Generation;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>Settings of one benchmark run.</summary>
public sealed record BenchmarkRunOptions
{
    /// <summary>Output files are <c>{Name}_predictions.jsonl</c> and <c>{Name}_summary.json</c>.</summary>
    public string Name { get; init; } = "benchmark";
    public EvaluationProtocol Protocol { get; init; } = EvaluationProtocol.Official;
    /// <summary>The model's prompt style; a protocol may force another.</summary>
    public VqaPromptStyle Style { get; init; } = VqaPromptStyle.Plain;
    /// <summary>Evaluate only the first N items (all when null).</summary>
    public int? Limit { get; init; }
    /// <summary>Items answered together (<see cref="IVqaAnswerGenerator.GenerateBatch"/>); answers do not depend on it.</summary>
    public int BatchSize { get; init; } = 8;
}

/// <summary>The outcome of a run: its summary rows (headline first), the predictions and the items skipped while asking, by reason.</summary>
public sealed record BenchmarkResult(
    string Name, string Benchmark, string Generator, string Protocol,
    IReadOnlyList<SummaryRow> Rows, IReadOnlyList<BenchmarkPrediction> Predictions,
    IReadOnlyDictionary<string, int> SkippedOnLoad, IReadOnlyDictionary<string, int> Skipped, double Seconds)
{
    public double Headline => Rows[0].Value;
}

/// <summary>
/// Runs any <see cref="IVqaAnswerGenerator"/> over any <see cref="IBenchmark"/>: prompt, generate, turn the text into
/// the written answer under the protocol, score; an item whose image cannot be read or whose prompt is too long is a
/// counted skip (asked = answered + skipped). Writes predictions (JSONL) and a summary (JSON) atomically.
/// </summary>
public static class BenchmarkRunner
{

    public static BenchmarkResult Run(IBenchmark benchmark, IVqaAnswerGenerator generator, BenchmarkRunOptions options,
        string? outputDir = null, IProgress<(int Done, int Total)>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var items = options.Limit is { } n ? benchmark.Items.Take(n).ToArray() : benchmark.Items.ToArray();
        if (items.Length == 0) throw new InvalidDataException($"{benchmark.Name}: no items to evaluate");
        var style = options.Protocol.Style(options.Style);
        var predictions = new List<BenchmarkPrediction>(items.Length);
        var skipped = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int batch = Math.Max(1, options.BatchSize);
        for (int start = 0; start < items.Length; start += batch)
        {
            // The position is the prompt's id: benchmark ids are strings, generators only log it.
            var prompts = items.Skip(start).Take(batch)
                .Select((item, k) => new VqaPrompt(benchmark.PromptText(item, style), item.ImagePaths, start + k, []) { StopTexts = options.Protocol.StopTexts })
                .ToArray();
            var attempts = generator.GenerateBatch(prompts);
            for (int k = 0; k < prompts.Length; k++)
            {
                var item = items[start + k];
                try
                {
                    string raw = attempts[k].AnswerOrThrow();
                    string answer = benchmark.Answer(item, raw, options.Protocol);
                    predictions.Add(new BenchmarkPrediction(item, raw, answer, benchmark.Score(item, answer)));
                }
                catch (UnreadableImageException e) { Count(skipped, "image_" + e.Reason); }
                catch (PromptTooLongException) { Count(skipped, VqaEvaluationRunner.PromptTooLong); }
                progress?.Report((start + k + 1, items.Length));
            }
        }
        if (predictions.Count == 0)
            throw new InvalidDataException($"{benchmark.Name}: no item could be asked: {string.Join(", ", skipped.Select(p => $"{p.Key} {p.Value}"))}");
        var result = new BenchmarkResult(options.Name, benchmark.Name, generator.Name, options.Protocol.Name, benchmark.Summarize(predictions),
            predictions, benchmark.SkippedOnLoad, skipped, sw.Elapsed.TotalSeconds);
        if (outputDir is not null) Write(result, outputDir);
        return result;
    }

    private static void Count(SortedDictionary<string, int> skipped, string reason) => skipped[reason] = skipped.GetValueOrDefault(reason) + 1;

    private static void Write(BenchmarkResult r, string dir)
    {
        Directory.CreateDirectory(dir);
        ResultFiles.WriteJsonLines(Path.Combine(dir, $"{r.Name}_predictions.jsonl"), r.Predictions.Select(p => new
        {
            id = p.Item.Id, images = p.Item.ImagePaths, question = p.Item.Question, category = p.Item.Category,
            raw_answer = p.RawAnswer, answer = p.Answer, references = p.Item.References, score = p.Score,
        }));
        ResultFiles.WriteJson(Path.Combine(dir, $"{r.Name}_summary.json"), new
        {
            name = r.Name, benchmark = r.Benchmark, generator = r.Generator, protocol = r.Protocol,
            items = r.Predictions.Count, skipped_on_load = r.SkippedOnLoad, skipped = r.Skipped, seconds = r.Seconds,
            metrics = r.Rows.Select(row => new { metric = row.Metric, value = row.Value, n = row.Count }),
        });
    }
}
