using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>
/// One benchmark as the generic <see cref="BenchmarkRunner"/> drives it: the items its reader loaded (and those it
/// skipped), the prompt for an item, how a generated text becomes the written answer under a protocol, the score of
/// one answer and the summary rows of a run. Short-answer (GQA, TextVQA, POPE) and multiple-choice benchmarks
/// implement the same interface; a suite runs any list of them.
/// </summary>
public interface IBenchmark
{
    /// <summary>The name used by <c>--benchmark</c> and in result files (e.g. <c>gqa</c>).</summary>
    string Name { get; }

    /// <summary>Name of the headline metric (the first summary row), e.g. <c>accuracy</c>.</summary>
    string Metric { get; }

    IReadOnlyList<BenchmarkItem> Items { get; }

    /// <summary>Records read from the data files, and those skipped on load by reason (read = items + skipped).</summary>
    int ItemsRead { get; }
    IReadOnlyDictionary<string, int> SkippedOnLoad { get; }

    /// <summary>The prompt text for an item, with one <c>&lt;image&gt;</c> per image of the item.</summary>
    string PromptText(BenchmarkItem item, VqaPromptStyle style);

    /// <summary>The answer written for a generated text under <paramref name="protocol"/>.</summary>
    string Answer(string generated, EvaluationProtocol protocol);

    /// <summary>The answer written for a generated text to <paramref name="item"/>: multiple choice reads it against the item's options.</summary>
    string Answer(BenchmarkItem item, string generated, EvaluationProtocol protocol) => Answer(generated, protocol);

    /// <summary>The item's score in [0, 1] for a written answer.</summary>
    double Score(BenchmarkItem item, string answer);

    /// <summary>The run's metrics: the headline metric first, then any others and per-category breakdowns.</summary>
    IReadOnlyList<SummaryRow> Summarize(IReadOnlyList<BenchmarkPrediction> predictions);
}

/// <summary>
/// One question of a benchmark: its id in the benchmark's files, the question, its images (absolute or relative to
/// the working folder), the reference answers (one for GQA/POPE, ten for TextVQA) and an optional category.
/// </summary>
public sealed record BenchmarkItem(string Id, string Question, IReadOnlyList<string> ImagePaths, IReadOnlyList<string> References, string Category = "");

/// <summary>One answered item: the generated text, the written answer and its score.</summary>
public sealed record BenchmarkPrediction(BenchmarkItem Item, string RawAnswer, string Answer, double Score);

/// <summary>One metric of a run (0-1 unless the metric says otherwise) over <see cref="Count"/> items.</summary>
public sealed record SummaryRow(string Metric, double Value, int Count);
