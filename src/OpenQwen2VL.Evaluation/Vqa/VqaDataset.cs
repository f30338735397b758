using System.Globalization;
using System.Text.Json;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>One VQAv2 question joined with its annotation and the path of its image.</summary>
public sealed record VqaItem(
    long QuestionId,
    long ImageId,
    string ImagePath,
    string Question,
    string QuestionType,
    string AnswerType,
    string MultipleChoiceAnswer,
    IReadOnlyList<string> Answers);

/// <summary>
/// A VQAv2-style split: the questions file (<c>questions[]</c>) joined with the annotations file
/// (<c>annotations[]</c>) on <c>question_id</c>. Images are found as <c>imageRoot/</c> + the file name pattern
/// applied to <c>image_id</c> (VQAv2's COCO names use e.g. <c>COCO_val2014_{0:D12}.jpg</c>).
/// Questions without an annotation, without answers, or whose image is missing are skipped and counted.
/// </summary>
public sealed class VqaDataset
{
    public const string DefaultImageFilePattern = "{0:D12}.jpg";
    /// <summary>1 GiB per JSON file: VQAv2's largest (train annotations) is ~330 MB; a bigger file is refused in one line, not read.</summary>
    public const long MaxJsonBytes = 1L << 30;

    public required IReadOnlyList<VqaItem> Items { get; init; }
    /// <summary>Questions read, and those skipped by reason (input = items + skipped).</summary>
    public required int QuestionsRead { get; init; }
    public required IReadOnlyDictionary<string, int> Skipped { get; init; }

    /// <param name="requireImages">false when scoring a results file: no image is read, so a missing one skips nothing</param>
    public static VqaDataset Load(string questionsPath, string annotationsPath, string imageRoot, string imageFilePattern = DefaultImageFilePattern, bool requireImages = true)
    {
        using var qDoc = JsonDocument.Parse(BoundedFile.ReadAllBytes(questionsPath, MaxJsonBytes, "a VQA questions file"));
        using var aDoc = JsonDocument.Parse(BoundedFile.ReadAllBytes(annotationsPath, MaxJsonBytes, "a VQA annotations file"));
        var annotations = new Dictionary<long, JsonElement>();
        foreach (var a in aDoc.RootElement.GetProperty("annotations").EnumerateArray())
            annotations[a.GetProperty("question_id").GetInt64()] = a.Clone();

        var items = new List<VqaItem>();
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var seen = new HashSet<long>();
        int read = 0;
        foreach (var q in qDoc.RootElement.GetProperty("questions").EnumerateArray())
        {
            read++;
            long qid = q.GetProperty("question_id").GetInt64();
            // Predictions, results files and scores are keyed by question_id: two questions with one id cannot both be scored.
            if (!seen.Add(qid)) throw new InvalidDataException($"{questionsPath}: question_id {qid} appears more than once");
            long imageId = q.GetProperty("image_id").GetInt64();
            string? reason = null;
            if (!annotations.TryGetValue(qid, out var ann)) reason = "no_annotation";
            string imagePath = Path.Combine(imageRoot, string.Format(CultureInfo.InvariantCulture, imageFilePattern, imageId));
            var answers = reason is null && ann.TryGetProperty("answers", out var arr)
                ? arr.EnumerateArray().Select(x => x.GetProperty("answer").GetString() ?? "").ToArray()
                : [];
            if (reason is null && answers.Length == 0) reason = "no_answers";
            if (reason is null && requireImages && !File.Exists(imagePath)) reason = "image_missing";
            if (reason is not null)
            {
                skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
                continue;
            }
            items.Add(new VqaItem(qid, imageId, imagePath, q.GetProperty("question").GetString() ?? "",
                StringOr(ann, "question_type", "unknown"), StringOr(ann, "answer_type", "unknown"),
                StringOr(ann, "multiple_choice_answer", answers[0]), answers));
        }
        return new VqaDataset { Items = items, QuestionsRead = read, Skipped = skipped };
    }

    private static string StringOr(JsonElement e, string name, string fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;
}
