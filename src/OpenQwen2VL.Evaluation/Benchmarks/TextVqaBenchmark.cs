using System.Globalization;
using System.Text.Json;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>
/// TextVQA (val, as the paper reports it). File format: TextVQA_0.5.1_val.json,
/// <c>{"dataset_type": "val", "data": [{"question_id": 34602, "image_id": "0054c91397f2fe05", "question": "...",
/// "answers": [10 strings], ...}, ...]}</c>; images are <c>{image_id}.jpg</c> in the images folder (train_images).
/// Metric: the VQA accuracy as TextVQA's evaluator (and LLaVA's/lmms-eval's) computes it: the EvalAI answer
/// processor applied to the prediction and to every human answer, always, then the leave-one-annotator-out mean
/// of min(matches / 3, 1).
/// </summary>
public sealed class TextVqaBenchmark : IBenchmark
{
    private TextVqaBenchmark(IReadOnlyList<BenchmarkItem> items, int read, IReadOnlyDictionary<string, int> skipped) =>
        (Items, ItemsRead, SkippedOnLoad) = (items, read, skipped);

    public string Name => "textvqa";
    public string Metric => "vqa_accuracy";
    public IReadOnlyList<BenchmarkItem> Items { get; }
    public int ItemsRead { get; }
    public IReadOnlyDictionary<string, int> SkippedOnLoad { get; }

    public static TextVqaBenchmark Load(string path, string imageRoot)
    {
        using var doc = BenchmarkFiles.ReadJson(path, "a TextVQA JSON {data: [{question_id, image_id, question, answers}]}");
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: not a TextVQA JSON: no \"data\" array");
        var items = new List<BenchmarkItem>();
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int read = 0;
        foreach (var q in data.EnumerateArray())
        {
            read++;
            bool isObject = q.ValueKind == JsonValueKind.Object;
            string? id = isObject ? BenchmarkFiles.Text(q, "question_id") : null;
            string? imageId = isObject ? BenchmarkFiles.Text(q, "image_id") : null;
            string? question = isObject ? BenchmarkFiles.Text(q, "question") : null;
            if (id is null || imageId is null || question is null) { BenchmarkFiles.Skip(skipped, "missing_field"); continue; }
            if (!seen.Add(id)) throw new InvalidDataException($"{path}: question_id {id} appears more than once");
            var answers = q.TryGetProperty("answers", out var a) && a.ValueKind == JsonValueKind.Array
                ? a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToArray() : [];
            if (answers.Length == 0) { BenchmarkFiles.Skip(skipped, "no_answers"); continue; }
            string image = Path.Combine(imageRoot, string.Create(CultureInfo.InvariantCulture, $"{imageId}.jpg"));
            if (!File.Exists(image)) { BenchmarkFiles.Skip(skipped, "image_missing"); continue; }
            items.Add(new BenchmarkItem(id, question, [image], answers));
        }
        return new TextVqaBenchmark(items, read, skipped);
    }

    public string PromptText(BenchmarkItem item, VqaPromptStyle style) => ShortAnswerPrompt.Text(item.Question, style);

    public string Answer(string generated, EvaluationProtocol protocol) => protocol.Answer(generated, EvalAiAnswerProcessor.Process);

    public double Score(BenchmarkItem item, string answer) =>
        VqaAccuracy.LeaveOneOut(EvalAiAnswerProcessor.Process(answer), item.References.Select(EvalAiAnswerProcessor.Process).ToArray());

    public IReadOnlyList<SummaryRow> Summarize(IReadOnlyList<BenchmarkPrediction> predictions) =>
        BenchmarkSummaries.MeanWithCategories(Metric, predictions);
}
