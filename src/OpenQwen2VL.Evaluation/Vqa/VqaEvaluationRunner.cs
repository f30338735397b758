using System.Diagnostics;
using OpenQwen2VL.Evaluation.Benchmarks;
using OpenQwen2VL.Model.Generation;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>Settings of one evaluation run.</summary>
public sealed record VqaEvaluationOptions
{
    /// <summary>Name of the run; output files are <c>{Name}_predictions.jsonl</c>, <c>{Name}_results.json</c>, <c>{Name}_summary.json</c>.</summary>
    public string Name { get; init; } = "vqa";
    public int Shots { get; init; }
    public int Seed { get; init; } = 7;
    /// <summary>How demonstrations are drawn (ours: per question; reference: one draw for the run).</summary>
    public ShotSelection ShotSelection { get; init; } = ShotSelection.Ours;
    public VqaPromptStyle Style { get; init; } = VqaPromptStyle.Plain;
    /// <summary>Evaluate only the first N questions (all when null).</summary>
    public int? Limit { get; init; }
    /// <summary>How a generated text becomes the written answer (and which prompt style and stop texts it needs).</summary>
    public EvaluationProtocol Protocol { get; init; } = EvaluationProtocol.Official;
    /// <summary>
    /// False when the generator returns finished answers (a results file being scored): they are then scored and
    /// written exactly as given, as the official evaluator would see them.
    /// </summary>
    public bool ProcessAnswers { get; init; } = true;
    /// <summary>How many predictions to keep as examples in the summary.</summary>
    public int ExampleCount { get; init; } = 6;
    /// <summary>Questions answered together (<see cref="IVqaAnswerGenerator.GenerateBatch"/>); answers do not depend on it.</summary>
    public int BatchSize { get; init; } = 8;
}

/// <summary>One scored prediction.</summary>
public sealed record VqaPrediction(VqaItem Item, string RawAnswer, string Answer, double Accuracy, IReadOnlyList<long> DemonstrationQuestionIds);

/// <summary>
/// The outcome of a run: overall and per-type accuracy (0-1) over the answered questions, the predictions, a few
/// examples, and the questions skipped because an image could not be read, by reason (asked = answered + skipped).
/// </summary>
public sealed record VqaEvaluationResult(
    string Name,
    string Generator,
    int Shots,
    double Accuracy,
    IReadOnlyDictionary<string, double> AccuracyByAnswerType,
    IReadOnlyDictionary<string, double> AccuracyByQuestionType,
    IReadOnlyList<VqaPrediction> Predictions,
    IReadOnlyList<VqaPrediction> Examples,
    IReadOnlyDictionary<string, int> Skipped,
    double Seconds,
    string Protocol = "official")
{
    /// <summary>How the demonstrations were drawn ("ours" or "reference"), with <see cref="Seed"/>.</summary>
    public string ShotSelection { get; init; } = "ours";
    public int Seed { get; init; }
    /// <summary>The prompt style the questions were asked in ("plain", "chat", "open-qwen2vl").</summary>
    public string PromptStyle { get; init; } = "plain";

    /// <summary>The official evaluator's <c>accuracy</c> dict for these predictions: percentages rounded to 2 decimals.</summary>
    public double OfficialOverall => VqaAccuracy.OfficialMeanPercent(Predictions.Select(p => p.Accuracy));
    public IReadOnlyDictionary<string, double> OfficialPerQuestionType => OfficialBy(p => p.Item.QuestionType);
    public IReadOnlyDictionary<string, double> OfficialPerAnswerType => OfficialBy(p => p.Item.AnswerType);

    private SortedDictionary<string, double> OfficialBy(Func<VqaPrediction, string> key) =>
        new(Predictions.GroupBy(key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => VqaAccuracy.OfficialMeanPercent(g.Select(p => p.Accuracy))), StringComparer.Ordinal);
}

/// <summary>
/// Runs any <see cref="IVqaAnswerGenerator"/> over a <see cref="VqaDataset"/>: builds the zero- or k-shot prompt,
/// cuts the generated text to the answer, scores it with the official metric and writes predictions (JSONL),
/// a VQAv2 results file (<c>[{question_id, answer}]</c>, for the official evaluator) and a summary (JSON), atomically.
/// </summary>
public static class VqaEvaluationRunner
{
    /// <summary>Skip reason of a question whose prompt leaves no room under the model's max_position_embeddings.</summary>
    public const string PromptTooLong = "prompt_too_long";


    public static VqaEvaluationResult Run(VqaDataset data, IVqaAnswerGenerator generator, VqaEvaluationOptions options,
        string? outputDir = null, IProgress<(int Done, int Total)>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var items = options.Limit is { } n ? data.Items.Take(n).ToArray() : data.Items.ToArray();
        if (items.Length == 0) throw new ArgumentException("no questions to evaluate");
        var protocol = options.Protocol;
        var style = protocol.Style(options.Style);
        var builder = new VqaPromptBuilder(data.Items, options.Shots, options.Seed, style, options.ShotSelection);
        var predictions = new List<VqaPrediction>(items.Length);
        var skipped = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int done = 0;
        foreach (var chunk in items.Chunk(Math.Max(1, options.BatchSize)))
        {
            var prompts = chunk.Select(item => builder.Build(item) with { StopTexts = options.ProcessAnswers ? protocol.StopTexts : [] }).ToArray();
            var attempts = generator.GenerateBatch(prompts);
            for (int i = 0; i < chunk.Length; i++)
            {
                var (item, prompt) = (chunk[i], prompts[i]);
                try
                {
                    string raw = attempts[i].AnswerOrThrow();
                    // What is written to the results file is what is scored, so the summary equals the official code on that file.
                    string answer = options.ProcessAnswers ? protocol.Answer(raw, EvalAiAnswerProcessor.Process) : raw;
                    predictions.Add(new VqaPrediction(item, raw, answer, VqaAccuracy.Score(answer, item.Answers), prompt.DemonstrationQuestionIds));
                }
                catch (UnreadableImageException e)
                {
                    // The question's own image or a demonstration's: either way this prompt cannot be asked.
                    string key = "image_" + e.Reason;
                    skipped[key] = skipped.GetValueOrDefault(key) + 1;
                }
                catch (PromptTooLongException)
                {
                    // Demonstrations and image tokens past the model's max_position_embeddings: this prompt cannot be asked either.
                    skipped[PromptTooLong] = skipped.GetValueOrDefault(PromptTooLong) + 1;
                }
                progress?.Report((++done, items.Length));
            }
        }
        if (predictions.Count == 0)
            throw new InvalidDataException($"no question could be asked: {string.Join(", ", skipped.Select(p => $"{p.Key} {p.Value}"))}");
        var result = new VqaEvaluationResult(options.Name, generator.Name, options.Shots,
            predictions.Average(p => p.Accuracy),
            MeanBy(predictions, p => p.Item.AnswerType), MeanBy(predictions, p => p.Item.QuestionType),
            predictions, predictions.Take(options.ExampleCount).ToArray(), skipped, sw.Elapsed.TotalSeconds, protocol.Name)
        {
            ShotSelection = options.ShotSelection == ShotSelection.Reference ? "reference" : "ours", Seed = options.Seed, PromptStyle = StyleName(style),
        };
        if (outputDir is not null) Write(result, outputDir);
        return result;
    }

    /// <summary>The answer part of generated text: up to the first line break or end-of-turn/chunk token, trimmed.</summary>
    public static string CutAnswer(string generated)
    {
        int end = generated.Length;
        foreach (var stop in new[] { "\n", VqaPromptBuilder.EndOfChunk, "<|im_end|>", "<|endoftext|>" })
        {
            int at = generated.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && at < end) end = at;
        }
        return generated[..end].Trim();
    }

    /// <summary>The name a prompt style is recorded under.</summary>
    public static string StyleName(VqaPromptStyle style) => style switch
    {
        VqaPromptStyle.Chat => "chat",
        VqaPromptStyle.OpenQwen2VL => "open-qwen2vl",
        _ => "plain",
    };

    private static IReadOnlyDictionary<string, double> MeanBy(List<VqaPrediction> predictions, Func<VqaPrediction, string> key) =>
        predictions.GroupBy(key, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Average(p => p.Accuracy), StringComparer.Ordinal);

    private static void Write(VqaEvaluationResult r, string dir)
    {
        Directory.CreateDirectory(dir);
        ResultFiles.WriteJsonLines(Path.Combine(dir, $"{r.Name}_predictions.jsonl"), r.Predictions.Select(p => new
        {
            question_id = p.Item.QuestionId, image_id = p.Item.ImageId, image = p.Item.ImagePath, question = p.Item.Question,
            question_type = p.Item.QuestionType, answer_type = p.Item.AnswerType, shots = p.DemonstrationQuestionIds,
            raw_answer = p.RawAnswer, answer = p.Answer, normalized_answer = VqaAnswerNormalizer.Normalize(p.Answer),
            multiple_choice_answer = p.Item.MultipleChoiceAnswer, accuracy = p.Accuracy,
        }));
        ResultFiles.WriteJson(Path.Combine(dir, $"{r.Name}_results.json"), r.Predictions.Select(p => new { question_id = p.Item.QuestionId, answer = p.Answer }));
        ResultFiles.WriteJson(Path.Combine(dir, $"{r.Name}_summary.json"), new
        {
            name = r.Name, generator = r.Generator, protocol = r.Protocol, prompt_style = r.PromptStyle,
            shots = r.Shots, shot_selection = r.ShotSelection, seed = r.Seed, questions = r.Predictions.Count, skipped = r.Skipped,
            // The official evaluator's accuracy dict (percent, 2 decimals) on the results file written beside this summary.
            official = new { overall = r.OfficialOverall, perQuestionType = r.OfficialPerQuestionType, perAnswerType = r.OfficialPerAnswerType },
            accuracy = r.Accuracy, accuracy_by_answer_type = r.AccuracyByAnswerType, accuracy_by_question_type = r.AccuracyByQuestionType,
            seconds = r.Seconds,
            examples = r.Examples.Select(p => new { question_id = p.Item.QuestionId, image = p.Item.ImagePath, question = p.Item.Question, answer = p.Answer, multiple_choice_answer = p.Item.MultipleChoiceAnswer, accuracy = p.Accuracy }),
        });
    }
}
