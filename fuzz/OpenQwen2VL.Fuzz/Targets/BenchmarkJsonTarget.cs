using System.Text;
using OpenQwen2VL.Evaluation.Benchmarks;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>
/// The other evaluation data files: the first input byte picks the reader (0 GQA questions, 1 TextVQA, 2 POPE lines,
/// 3 a VQAv2 results file), the rest is the file. Loaded, or refused in one line; input = items + skipped.
/// </summary>
public sealed class BenchmarkJsonTarget : IFuzzTarget
{
    public string Name => "benchmark-json";
    public string Description => "GQA / TextVQA / POPE data and VQAv2 results files (first byte picks the reader)";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        if (input.IsEmpty) return;
        int reader = input[0] % 4;
        string path = scratch.Write("benchmark.json", input[1..]);
        string images = Path.Combine(scratch.Folder, "images");
        ExpectedRefusal.Guard(() =>
        {
            if (reader == 3) { _ = VqaResultsFile.Read(path); return; }
            IBenchmark b = reader switch
            {
                0 => GqaBenchmark.Load(path, images),
                1 => TextVqaBenchmark.Load(path, images),
                _ => PopeBenchmark.Load(path, images),
            };
            int skipped = b.SkippedOnLoad.Values.Sum();
            if (b.ItemsRead != b.Items.Count + skipped)
                throw new InvariantBrokenException($"read {b.ItemsRead} != items {b.Items.Count} + skipped {skipped}");
        });
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        static byte[] With(byte reader, string text) => [reader, .. Encoding.UTF8.GetBytes(text)];
        yield return ("gqa.json", With(0, """
            {"201307251":{"imageId":"n15740","question":"Is the sky blue?","answer":"yes","types":{"structural":"verify","semantic":"attr","detailed":"verifyAttr"}},
             "201640614":{"imageId":"n2","question":"What is on the table?","answer":"cup","types":{"structural":"query"}}}
            """));
        yield return ("textvqa.json", With(1, """
            {"dataset_type":"val","dataset_name":"textvqa","data":[
             {"question_id":34602,"image_id":"003a8ae2ef43b901","question":"what brand is this?","answers":["nokia","nokia","nokia","nokia","toshiba","nokia","nokia","nokia","nokia","nokia"]}]}
            """));
        yield return ("pope.jsonl", With(2,
            "{\"question_id\":1,\"image\":\"COCO_val2014_000000310196.jpg\",\"text\":\"Is there a snowboard in the image?\",\"label\":\"yes\",\"category\":\"adversarial\"}\n" +
            "{\"question_id\":2,\"image\":\"COCO_val2014_000000310196.jpg\",\"text\":\"Is there a dog in the image?\",\"label\":\"no\",\"category\":\"random\"}\n"));
        yield return ("results.json", With(3, """[{"question_id":420,"answer":"red"},{"question_id":70,"answer":"2"}]"""));
    }
}
