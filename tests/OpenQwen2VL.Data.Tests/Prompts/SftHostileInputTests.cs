using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Prompts;

/// <summary>
/// Issue 16: LLaVA annotation files from the internet: image paths out of the image root, FIFOs, devices, folders,
/// huge images, and records of hundreds of megabytes. Every such record is a counted skip; nothing blocks.
/// </summary>
public class SftHostileInputTests
{
    private static readonly byte[] Jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4];

    private static string Record(string id, string? image, string question = "<image>\nWhat is it?") => JsonSerializer.Serialize(new
    {
        id, image,
        conversations = new[] { new { from = "human", value = image is null ? "Hi" : question }, new { from = "gpt", value = "A thing." } },
    });

    private static LlavaSftReader Reader(string root, SftReadOptions? options = null) =>
        new(new ChatMlPromptBuilder(PromptTestTokenizer.Instance), root, 512, 4, options);

    /// <summary>Runs the read on another thread, so a regression that blocks on a FIFO fails the test instead of hanging it.</summary>
    private static List<T> WithinSeconds<T>(Func<IEnumerable<T>> read)
    {
        var task = Task.Run(() => read().ToList());
        Assert.True(task.Wait(TimeSpan.FromSeconds(30)), "the read blocked");
        return task.Result;
    }

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int Mkfifo(string path, uint mode);

    [Fact]
    public void ImagePathsStayUnderTheImageRootAndOnlyRegularFilesAreOpened()
    {
        if (!OperatingSystem.IsLinux()) return; // FIFOs, /dev and /etc/passwd
        using var tmp = new TempDir();
        string root = tmp.File("images");
        Directory.CreateDirectory(Path.Combine(root, "sub"));
        File.WriteAllBytes(Path.Combine(root, "sub", "ok.jpg"), Jpeg);
        File.WriteAllBytes(tmp.File("outside.jpg"), Jpeg);
        File.CreateSymbolicLink(Path.Combine(root, "inner-link.jpg"), Path.Combine(root, "sub", "ok.jpg"));
        File.CreateSymbolicLink(Path.Combine(root, "outer-link.jpg"), tmp.File("outside.jpg"));
        File.CreateSymbolicLink(Path.Combine(root, "zero-link.jpg"), "/dev/zero");
        Directory.CreateSymbolicLink(Path.Combine(root, "escape"), tmp.Path);
        Assert.Equal(0, Mkfifo(Path.Combine(root, "fifo.jpg"), 0b110_000_000));
        File.WriteAllBytes(Path.Combine(root, "empty.jpg"), []);
        File.WriteAllBytes(Path.Combine(root, "big.jpg"), new byte[3000]);

        var expected = new Dictionary<string, string>
        {
            ["abs"] = SftImageRoot.ImageOutsideRoot, ["up"] = SftImageRoot.ImageOutsideRoot, ["up2"] = SftImageRoot.ImageOutsideRoot,
            ["outer-link"] = SftImageRoot.ImageOutsideRoot, ["zero-link"] = SftImageRoot.ImageOutsideRoot,
            ["dir-link"] = SftImageRoot.ImageOutsideRoot, ["dev"] = SftImageRoot.ImageOutsideRoot,
            ["fifo"] = SftImageRoot.ImageNotRegularFile, ["folder"] = SftImageRoot.ImageNotRegularFile,
            ["empty"] = SftImageRoot.ImageNotRegularFile, ["big"] = SftImageRoot.ImageTooLarge, ["gone"] = SftImageRoot.ImageMissing,
        };
        string[] lines =
        [
            Record("ok", "sub/ok.jpg"), Record("inner-link", "inner-link.jpg"), Record("dotted", "sub/../sub/./ok.jpg"), Record("text", null),
            Record("abs", "/etc/passwd"), Record("up", "../outside.jpg"), Record("up2", "sub/../../outside.jpg"),
            Record("outer-link", "outer-link.jpg"), Record("zero-link", "zero-link.jpg"), Record("dir-link", "escape/outside.jpg"),
            Record("dev", "/dev/zero"), Record("fifo", "fifo.jpg"), Record("folder", "sub"), Record("empty", "empty.jpg"),
            Record("big", "big.jpg"), Record("gone", "gone.jpg"),
        ];
        var annotations = tmp.File("sft.jsonl");
        File.WriteAllLines(annotations, lines);
        var options = new SftReadOptions { MaxImageBytes = 2000 };

        // The reader: which records survive, and why the others do not.
        var stats = new SampleStats();
        var samples = WithinSeconds(() => Reader(root, options).Read(annotations, stats));
        Assert.Equal(["ok", "inner-link", "dotted", "text"], samples.Select(s => s.Id));
        foreach (var reason in expected.Values.Distinct())
            Assert.Equal(expected.Values.Count(r => r == reason), stats.Skipped[reason]);
        Assert.Equal(lines.Length, stats.Input);
        Assert.Equal(stats.Input, stats.Kept + stats.SkippedTotal);
        string okPath = Path.Combine(root, "sub", "ok.jpg");
        Assert.All(samples.Where(s => s.Id != "text"), s => Assert.Equal([okPath], s.ImagePaths)); // links resolved

        // The loader's source: the same, with the images read; input = kept + skipped.
        var skipStats = new SkipStats();
        var examples = WithinSeconds(() => new SftExampleSource(Reader(root, options)).ReadShard(annotations, skipStats));
        Assert.Equal(4, examples.Count);
        Assert.All(examples.Where(e => e.Images.Length > 0), e => Assert.Equal(Jpeg, e.Images[0].ToArray()));
        Assert.Equal(lines.Length, skipStats.Input);
        Assert.True(skipStats.IsBalanced);

        // Allowed explicitly, paths outside the root are read; a device or a FIFO still is not.
        var allowed = new SampleStats();
        var outside = WithinSeconds(() => Reader(root, options with { AllowImagesOutsideRoot = true }).Read(annotations, allowed));
        Assert.Contains("up", outside.Select(s => s.Id));
        Assert.Contains("outer-link", outside.Select(s => s.Id));
        Assert.DoesNotContain("zero-link", outside.Select(s => s.Id));
        Assert.DoesNotContain("dev", outside.Select(s => s.Id));
        Assert.Equal(5, allowed.Skipped[SftImageRoot.ImageNotRegularFile]); // the FIFO, the folder, the empty file, /dev/zero twice
    }

    [Fact]
    public void AnImageIsReadWithABoundedReadEvenIfItGrewAfterTheCheck()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp.File("img"));
        var path = Path.Combine(tmp.File("img"), "a.jpg");
        File.WriteAllBytes(path, new byte[100]);
        var images = new SftImageRoot(tmp.File("img"), maxImageBytes: 1000);
        Assert.True(images.TryResolve("a.jpg", out var full, out _));
        File.WriteAllBytes(path, new byte[5000]);
        Assert.False(images.TryRead(full, out _, out var reason));
        Assert.Equal(SftImageRoot.ImageTooLarge, reason);
        File.WriteAllBytes(path, new byte[10]);
        Assert.True(images.TryRead(full, out var bytes, out _));
        Assert.Equal(10, bytes.Length);
    }

    [Fact]
    public void AFifoAsTheAnnotationFileIsRefusedBeforeItIsOpened()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var tmp = new TempDir();
        var fifo = Fifo.Create(tmp.File("sft.json"));
        var stats = new SampleStats();
        var e = Assert.Throws<InvalidDataException>(() => Fifo.Within(fifo, () => Reader(tmp.Path).Read(fifo, stats).ToList()));
        Assert.StartsWith($"{fifo}: not a regular file (a FIFO", e.Message);
        Assert.Equal(0, stats.Input);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ARecordOverTheCapIsSkippedWithoutBeingHeld(bool jsonArray)
    {
        using var tmp = new TempDir();
        string huge = Record("huge", null).Replace("\"Hi\"", "\"" + new string('a', 8 << 20) + "\"");
        string[] records = [Record("a", null), huge, Record("b", null), Record("esc", null).Replace("Hi", "say \\\"]}{[\\\" ok")];
        var path = tmp.File(jsonArray ? "sft.json" : "sft.jsonl");
        File.WriteAllText(path, jsonArray ? "\uFEFF[\n" + string.Join(",\n", records) + "\n]\n" : "\uFEFF" + string.Join("\n", records) + "\n");

        var stats = new SampleStats();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var samples = Reader(tmp.Path, new SftReadOptions { MaxRecordBytes = 256 << 10 }).Read(path, stats).ToList();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(["a", "b", "esc"], samples.Select(s => s.Id));
        Assert.Equal(1, stats.Skipped["record_too_long"]);
        Assert.Equal(4, stats.Input);
        Assert.Equal(stats.Input, stats.Kept + stats.SkippedTotal);
        Assert.True(allocated < 4 << 20, $"allocated {allocated:N0} bytes for an 8 MiB record"); // a 16 MiB line string before
    }

    [Fact]
    public void ABadElementCostsThatElementAndBrokenStructureEndsTheFileOnce()
    {
        using var tmp = new TempDir();
        var path = tmp.File("sft.json");
        File.WriteAllText(path, "[" + Record("a", null) + ", {\"id\": nope}, " + Record("b", null) + ", 42, " + Record("c", null) + "}]");
        var stats = new SampleStats();
        var samples = Reader(tmp.Path).Read(path, stats).ToList();
        Assert.Equal(["a", "b"], samples.Select(s => s.Id)); // "c" is followed by a stray '}'
        Assert.Equal(3, stats.Skipped["malformed_json"]);
        Assert.Equal(stats.Input, stats.Kept + stats.SkippedTotal);

        File.WriteAllText(path, "[" + Record("a", null) + ", " + Record("b", null)[..20]); // cut
        stats = new SampleStats();
        Assert.Equal(["a"], Reader(tmp.Path).Read(path, stats).Select(s => s.Id));
        Assert.Equal(1, stats.Skipped["malformed_json"]);
    }

    [Fact]
    public void ATarCaptionOverTheCapIsSkippedBeforeDecoding()
    {
        var sample = new WebDatasetSample
        {
            Key = "k", ShardPath = "s.tar",
            Members = new Dictionary<string, byte[]> { ["jpg"] = Jpeg, ["txt"] = Encoding.UTF8.GetBytes(new string('w', Img2DatasetParser.DefaultMaxCaptionBytes + 1)) },
        };
        Assert.False(Img2DatasetParser.TryParse(sample, out _, out var reason));
        Assert.Equal(Img2DatasetParser.CaptionTooLong, reason);
        Assert.True(Img2DatasetParser.TryParse(sample, Img2DatasetParser.DefaultMaxCaptionBytes + 1, out _, out _));
    }

    [Fact]
    public void ARecordThatIsNotUtf8IsACountedSkip()
    {
        // Found by fuzzing (fuzz/run llava-json): a 0xFF byte inside a string passed the JSON parser and threw
        // InvalidOperationException when the string was read, ending the job.
        using var tmp = new TempDir();
        var bad = Encoding.UTF8.GetBytes(Record("bad", null)).Select(b => b == (byte)'H' ? (byte)0xFF : b); // "Hi" -> 0xFF 'i'
        var path = tmp.File("sft.jsonl");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes(Record("a", null) + "\n"), .. bad, (byte)'\n', .. Encoding.UTF8.GetBytes(Record("b", null) + "\n")]);
        var stats = new SampleStats();
        var samples = Reader(tmp.Path).Read(path, stats).ToList();
        Assert.Equal(["a", "b"], samples.Select(s => s.Id));
        Assert.Equal(1, stats.Skipped[JsonRecordSplitter.InvalidUtf8]);
        Assert.Equal(stats.Input, stats.Kept + stats.SkippedTotal);
    }
}
