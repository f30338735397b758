using System.Text.Json;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>
/// POPE (object hallucination). File format: LLaVA's / lmms-eval's POPE JSON lines, one question a line,
/// <c>{"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": "Is there a snowboard in the image?",
/// "label": "yes", "category": "adversarial"}</c> (<c>category</c> optional); images are <c>image</c> in the images
/// folder. The answer is read as yes/no the way LLaVA's eval_pope does; metrics: accuracy, precision, recall and
/// F1 of "yes", and the ratio of "yes" answers, overall and per category.
/// </summary>
public sealed class PopeBenchmark : IBenchmark
{
    private PopeBenchmark(IReadOnlyList<BenchmarkItem> items, int read, IReadOnlyDictionary<string, int> skipped) =>
        (Items, ItemsRead, SkippedOnLoad) = (items, read, skipped);

    public string Name => "pope";
    public string Metric => "f1";
    public IReadOnlyList<BenchmarkItem> Items { get; }
    public int ItemsRead { get; }
    public IReadOnlyDictionary<string, int> SkippedOnLoad { get; }

    public static PopeBenchmark Load(string path, string imageRoot)
    {
        var items = new List<BenchmarkItem>();
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int read = 0;
        foreach (var line in BenchmarkFiles.ReadJsonLines(path, "POPE JSON lines {question_id, image, text, label}"))
        {
            read++;
            if (line is not JsonElement q) { BenchmarkFiles.Skip(skipped, "not_a_json_object"); continue; }
            string? id = BenchmarkFiles.Text(q, "question_id"), image = BenchmarkFiles.Text(q, "image"),
                text = BenchmarkFiles.Text(q, "text"), label = BenchmarkFiles.Text(q, "label");
            if (id is null || image is null || text is null || label is null) { BenchmarkFiles.Skip(skipped, "missing_field"); continue; }
            // Per-category files reuse question ids, so a category-qualified id must be unique.
            string category = BenchmarkFiles.Text(q, "category") ?? "";
            string key = category.Length > 0 ? $"{category}/{id}" : id;
            if (!seen.Add(key)) throw new InvalidDataException($"{path}: question_id {key} appears more than once");
            label = label.Trim().ToLowerInvariant();
            if (label is not ("yes" or "no")) { BenchmarkFiles.Skip(skipped, "label_not_yes_or_no"); continue; }
            string imagePath = Path.Combine(imageRoot, image);
            if (!File.Exists(imagePath)) { BenchmarkFiles.Skip(skipped, "image_missing"); continue; }
            items.Add(new BenchmarkItem(key, text, [imagePath], [label], category));
        }
        return new PopeBenchmark(items, read, skipped);
    }

    public string PromptText(BenchmarkItem item, VqaPromptStyle style) => ShortAnswerPrompt.Text(item.Question, style);

    /// <summary>The answer text as generated (cut); it is read as yes/no when scored.</summary>
    public string Answer(string generated, EvaluationProtocol protocol) => protocol.Answer(generated, a => a);

    /// <summary>
    /// LLaVA's eval_pope reading of an answer (haotian-liu/LLaVA llava/eval/eval_pope.py): keep the text before the
    /// first period, delete commas, split on spaces; "no" if a word is "No", "no" or "not", otherwise "yes".
    /// </summary>
    public static string YesNo(string answer)
    {
        int period = answer.IndexOf('.');
        string first = period >= 0 ? answer[..period] : answer;
        var words = first.Replace(",", "").Split(' ');
        return words.Any(w => w is "No" or "no" or "not") ? "no" : "yes";
    }

    public double Score(BenchmarkItem item, string answer) => YesNo(answer) == item.References[0] ? 1 : 0;

    public IReadOnlyList<SummaryRow> Summarize(IReadOnlyList<BenchmarkPrediction> predictions)
    {
        var rows = PopeMetrics.Of(predictions).Rows("");
        foreach (var g in predictions.Where(p => p.Item.Category.Length > 0).GroupBy(p => p.Item.Category, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            rows.AddRange(PopeMetrics.Of(g.ToList()).Rows($"[{g.Key}]"));
        return rows;
    }
}
