using System.Globalization;
using System.Text.Json;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>
/// GQA (testdev-balanced, as LLaVA and lmms-eval report it). File format: GQA's released questions JSON, one object
/// keyed by question id, <c>{"201307251": {"imageId": "n7683", "question": "...", "answer": "yes",
/// "types": {"structural": "verify", ...}, ...}, ...}</c>; images are <c>{imageId}.jpg</c> in the images folder.
/// Metric: exact match of the answer against <c>answer</c> after LLaVA's normalisation (strip, trailing periods
/// removed, lower-case), per item 0 or 1; rows: accuracy, then accuracy per structural type.
/// </summary>
public sealed class GqaBenchmark : IBenchmark
{
    private GqaBenchmark(IReadOnlyList<BenchmarkItem> items, int read, IReadOnlyDictionary<string, int> skipped) =>
        (Items, ItemsRead, SkippedOnLoad) = (items, read, skipped);

    public string Name => "gqa";
    public string Metric => "accuracy";
    public IReadOnlyList<BenchmarkItem> Items { get; }
    public int ItemsRead { get; }
    public IReadOnlyDictionary<string, int> SkippedOnLoad { get; }

    public static GqaBenchmark Load(string questionsPath, string imageRoot)
    {
        using var doc = BenchmarkFiles.ReadJson(questionsPath, "a GQA questions JSON {question_id: {imageId, question, answer}}");
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{questionsPath}: not a GQA questions JSON: the top level is not an object keyed by question id");
        var items = new List<BenchmarkItem>();
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int read = 0;
        foreach (var q in doc.RootElement.EnumerateObject())
        {
            read++;
            // JSON objects may repeat a key; predictions are keyed by question id, so one id cannot be scored twice.
            if (!seen.Add(q.Name)) throw new InvalidDataException($"{questionsPath}: question id {q.Name} appears more than once");
            var v = q.Value;
            string? imageId = v.ValueKind == JsonValueKind.Object ? BenchmarkFiles.Text(v, "imageId") : null;
            string? question = v.ValueKind == JsonValueKind.Object ? BenchmarkFiles.Text(v, "question") : null;
            string? answer = v.ValueKind == JsonValueKind.Object ? BenchmarkFiles.Text(v, "answer") : null;
            if (imageId is null || question is null || answer is null) { BenchmarkFiles.Skip(skipped, "missing_field"); continue; }
            string image = Path.Combine(imageRoot, string.Create(CultureInfo.InvariantCulture, $"{imageId}.jpg"));
            if (!File.Exists(image)) { BenchmarkFiles.Skip(skipped, "image_missing"); continue; }
            string type = v.TryGetProperty("types", out var t) && t.ValueKind == JsonValueKind.Object ? BenchmarkFiles.Text(t, "structural") ?? "" : "";
            items.Add(new BenchmarkItem(q.Name, question, [image], [answer], type));
        }
        return new GqaBenchmark(items, read, skipped);
    }

    public string PromptText(BenchmarkItem item, VqaPromptStyle style) => ShortAnswerPrompt.Text(item.Question, style);

    public string Answer(string generated, EvaluationProtocol protocol) => protocol.Answer(generated, Normalize);

    /// <summary>
    /// LLaVA's GQA answer normalisation (haotian-liu/LLaVA scripts/convert_gqa_for_eval.py: <c>text.rstrip('.').lower()</c>
    /// on the answer its loader already stripped), then GQA's eval.py compares it with <c>answer</c> exactly.
    /// </summary>
    public static string Normalize(string answer) => answer.Trim().TrimEnd('.').ToLowerInvariant();

    public double Score(BenchmarkItem item, string answer) => Normalize(answer) == Normalize(item.References[0]) ? 1 : 0;

    public IReadOnlyList<SummaryRow> Summarize(IReadOnlyList<BenchmarkPrediction> predictions) =>
        BenchmarkSummaries.MeanWithCategories(Metric, predictions);
}
