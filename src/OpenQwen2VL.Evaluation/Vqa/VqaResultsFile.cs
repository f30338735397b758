using System.Text.Json;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// A VQAv2 results file as the official evaluator reads it: a JSON array <c>[{"question_id": int, "answer": str}]</c>.
/// Like the official <c>loadRes</c>, the file must answer exactly the questions evaluated (no unknown id, none
/// missing); unlike it, a question id given twice is refused instead of the last one silently winning.
/// </summary>
public static class VqaResultsFile
{
    /// <summary>256 MiB: a full VQAv2 test-dev results file is ~10 MB.</summary>
    public const long MaxBytes = 256L << 20;

    /// <summary>The answers by question id; <see cref="InvalidDataException"/> (one line naming the file) for anything else.</summary>
    public static Dictionary<long, string> Read(string path)
    {
        const string What = "a VQAv2 results file [{question_id, answer}]";
        var answers = new Dictionary<long, string>();
        // UntrustedJson checks UTF-8 and syntax, and its accessors name the entry and field of any missing or mistyped one.
        using var doc = UntrustedJson.Parse(BoundedFile.ReadAllBytes(path, MaxBytes, "a VQAv2 results file"), path, What);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{path}: not a VQAv2 results file: the top level is not an array");
        int n = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            string where = $"entry {n++}";
            long qid = UntrustedJson.Int64(e, "question_id", path, where);
            string answer = UntrustedJson.String(e, "answer", path, where);
            if (!answers.TryAdd(qid, answer)) throw new InvalidDataException($"{path}: question_id {qid} appears more than once");
        }
        return answers;
    }

    /// <summary>Refuses results that do not cover exactly <paramref name="questionIds"/>, as the official evaluator does.</summary>
    public static void RequireSameQuestions(string path, IReadOnlyDictionary<long, string> answers, IEnumerable<long> questionIds)
    {
        var ids = questionIds.ToHashSet();
        foreach (var extra in answers.Keys.Where(id => !ids.Contains(id)))
            throw new InvalidDataException($"{path}: question_id {extra} is not a question of the evaluated split (the official evaluator refuses such a file)");
        var missing = ids.Where(id => !answers.ContainsKey(id)).ToArray();
        if (missing.Length > 0)
            throw new InvalidDataException($"{path}: no answer for {missing.Length} evaluated question(s), e.g. question_id {missing[0]} (the official evaluator refuses such a file)");
    }
}
