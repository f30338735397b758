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
        using var qDoc = UntrustedJson.Parse(BoundedFile.ReadAllBytes(questionsPath, MaxJsonBytes, "a VQA questions file"), questionsPath, "a VQA questions file");
        using var aDoc = UntrustedJson.Parse(BoundedFile.ReadAllBytes(annotationsPath, MaxJsonBytes, "a VQA annotations file"), annotationsPath, "a VQA annotations file");
        // Every field is read through UntrustedJson: a missing or mistyped one is one line naming the file and the entry.
        var annotations = new Dictionary<long, JsonElement>();
        int n = 0;
        foreach (var a in UntrustedJson.Member(aDoc.RootElement, "annotations", JsonValueKind.Array, annotationsPath, "the file").EnumerateArray())
            annotations[UntrustedJson.Int64(a, "question_id", annotationsPath, $"annotation {n++}")] = a.Clone();

        var items = new List<VqaItem>();
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var seen = new HashSet<long>();
        int read = 0;
        foreach (var q in UntrustedJson.Member(qDoc.RootElement, "questions", JsonValueKind.Array, questionsPath, "the file").EnumerateArray())
        {
            string where = $"question {read}";
            read++;
            long qid = UntrustedJson.Int64(q, "question_id", questionsPath, where);
            // Predictions, results files and scores are keyed by question_id: two questions with one id cannot both be scored.
            if (!seen.Add(qid)) throw new InvalidDataException($"{questionsPath}: question_id {qid} appears more than once");
            long imageId = UntrustedJson.Int64(q, "image_id", questionsPath, where);
            string question = UntrustedJson.String(q, "question", questionsPath, where);
            string? reason = null;
            if (!annotations.TryGetValue(qid, out var ann)) reason = "no_annotation";
            string imagePath = Path.Combine(imageRoot, string.Format(CultureInfo.InvariantCulture, imageFilePattern, imageId));
            var answers = reason is null && ann.TryGetProperty("answers", out var arr)
                ? UntrustedJson.Member(ann, "answers", JsonValueKind.Array, annotationsPath, $"the annotation of question {qid}").EnumerateArray()
                    .Select((x, i) => UntrustedJson.String(x, "answer", annotationsPath, $"answer {i} of question {qid}")).ToArray()
                : [];
            if (reason is null && answers.Length == 0) reason = "no_answers";
            if (reason is null && requireImages && !File.Exists(imagePath)) reason = "image_missing";
            if (reason is not null)
            {
                skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
                continue;
            }
            items.Add(new VqaItem(qid, imageId, imagePath, question,
                StringOr(ann, "question_type", "unknown"), StringOr(ann, "answer_type", "unknown"),
                StringOr(ann, "multiple_choice_answer", answers[0]), answers));
        }
        return new VqaDataset { Items = items, QuestionsRead = read, Skipped = skipped };
    }

    private static string StringOr(JsonElement e, string name, string fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;
}
