using System.Text;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>
/// A VLMEvalKit multiple-choice TSV (quoted fields, base64 images, options, circular MMBench groups): the first input
/// byte picks the dataset (its circular rule), the rest is the file. Loaded, or refused in one line; read = items + skipped.
/// </summary>
public sealed class McTsvTarget : IFuzzTarget
{
    // Small limits, so the fuzzer reaches the size checks with small inputs.
    static readonly McTsvLimits Limits = McTsvLimits.Default with { MaxFieldChars = 4096, MaxImageBytes = 2048 };

    public string Name => "mc-tsv";
    public string Description => "VLMEvalKit multiple-choice TSV (MMBench, SEEDBench, ...): rows, quoting, options, base64 images";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        if (input.IsEmpty) return;
        var dataset = McDataset.All[input[0] % McDataset.All.Count];
        string path = scratch.Write("bench.tsv", input[1..]);
        string images = Path.Combine(scratch.Folder, "mc-images");
        ExpectedRefusal.Guard(() =>
        {
            using var b = MultipleChoiceBenchmark.Load(path, dataset, Limits, images);
            int skipped = b.SkippedOnLoad.Values.Sum();
            if (b.ItemsRead != b.Items.Count + skipped)
                throw new InvariantBrokenException($"read {b.ItemsRead} != items {b.Items.Count} + skipped {skipped}");
        });
        if (Directory.Exists(images)) Directory.Delete(images, recursive: true);
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        var pixels = new byte[4 * 4 * 3];
        string image = Convert.ToBase64String(ImageEncoder.EncodeJpeg(new RgbImage(4, 4, pixels)));
        string mmbench =
            "index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\tl2-category\tsplit\timage\n" +
            $"0\tWhat colour is it?\tnan\tred\tblue\tgreen\tblack\tD\tcolor\tperception\tdev\t{image}\n" +
            "1000000\tWhat colour is it?\tnan\tblue\tgreen\tblack\tred\tC\tcolor\tperception\tdev\t0\n" +
            "1\t\"A \"\"quoted\"\"\tquestion\"\tSome hint\tyes\tno\t\t\tA\treasoning\tlogic\tdev\t" + image + "\n";
        yield return ("mmbench.tsv", [0, .. Encoding.UTF8.GetBytes(mmbench)]);
        string seed =
            "index\tquestion\tA\tB\tC\tD\tanswer\tcategory\timage\n" +
            $"7\tHow many?\t1\t2\t3\t4\tB\tcounting\t{image}\n";
        yield return ("seedbench.tsv", [1, .. Encoding.UTF8.GetBytes(seed)]);
    }
}
