using System.Text;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>
/// VQAv2 questions and annotations files: the input is the questions JSON, a NUL byte, then the annotations JSON (one
/// input for both, so the fuzzer can vary their agreement). Input = items + skipped.
/// </summary>
public sealed class VqaJsonTarget : IFuzzTarget
{
    public string Name => "vqa-json";
    public string Description => "VQAv2 questions + annotations JSON (split at the first NUL byte)";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        int nul = input.IndexOf((byte)0);
        var questions = nul < 0 ? input : input[..nul];
        var annotations = nul < 0 ? input : input[(nul + 1)..];
        string q = scratch.Write("questions.json", questions), a = scratch.Write("annotations.json", annotations);
        string images = Path.Combine(scratch.Folder, "images");
        ExpectedRefusal.Guard(() =>
        {
            var set = VqaDataset.Load(q, a, images);
            int skipped = set.Skipped.Values.Sum();
            if (set.QuestionsRead != set.Items.Count + skipped)
                throw new InvariantBrokenException($"read {set.QuestionsRead} != items {set.Items.Count} + skipped {skipped}");
        });
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        string questions = """
            {"info":{},"task_type":"Open-Ended","data_type":"mscoco","data_subtype":"val2014","questions":[
             {"image_id":42,"question":"What color is the bus?","question_id":420},
             {"image_id":7,"question":"How many dogs?","question_id":70}]}
            """;
        string annotations = """
            {"annotations":[
             {"question_type":"what color is the","multiple_choice_answer":"red","answer_type":"other","image_id":42,"question_id":420,
              "answers":[{"answer":"red","answer_confidence":"yes","answer_id":1},{"answer":"Red.","answer_confidence":"maybe","answer_id":2}]},
             {"question_type":"how many","multiple_choice_answer":"2","answer_type":"number","image_id":7,"question_id":70,
              "answers":[{"answer":"2","answer_confidence":"yes","answer_id":1},{"answer":"two","answer_confidence":"yes","answer_id":2}]}]}
            """;
        yield return ("pair.json", [.. Encoding.UTF8.GetBytes(questions), 0, .. Encoding.UTF8.GetBytes(annotations)]);
    }
}
