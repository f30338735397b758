using System.Runtime.InteropServices;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>
/// Issue 16: a VQA split downloaded from the internet whose image is a FIFO, a folder or a huge file, or whose
/// questions file is far too large: a question is skipped and counted, a file is refused in one line; nothing blocks.
/// </summary>
public class VqaHostileInputTests
{
    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int Mkfifo(string path, uint mode);

    private static string ReasonOf(string path, long maxBytes = VqaImageFile.MaxBytes)
    {
        var task = Task.Run(() => Assert.Throws<UnreadableImageException>(() => VqaImageFile.Read(path, maxBytes)));
        Assert.True(task.Wait(TimeSpan.FromSeconds(30)), "the read blocked");
        return task.Result.Reason;
    }

    [Fact]
    public void OnlyRegularFilesWithinTheCapAreRead()
    {
        using var dir = new TempDir();
        var ok = Path.Combine(dir.Path, "ok.jpg");
        File.WriteAllBytes(ok, [0xFF, 0xD8, 1, 2]);
        Assert.Equal([0xFF, 0xD8, 1, 2], VqaImageFile.Read(ok));

        var big = Path.Combine(dir.Path, "big.jpg");
        File.WriteAllBytes(big, new byte[1000]);
        Assert.Equal("too_large", ReasonOf(big, maxBytes: 999));
        Assert.Equal("not_a_regular_file", ReasonOf(dir.Path));
        Assert.Equal("missing", ReasonOf(Path.Combine(dir.Path, "nope.jpg")));
        if (OperatingSystem.IsLinux())
        {
            var fifo = Path.Combine(dir.Path, "fifo.jpg");
            Assert.Equal(0, Mkfifo(fifo, 0b110_000_000));
            Assert.Equal("not_a_regular_file", ReasonOf(fifo));
        }
    }

    [Fact]
    public async Task AFifoImageIsACountedSkipInTheEvaluationSummary()
    {
        if (!OperatingSystem.IsLinux()) return; // mkfifo
        using var dir = new TempDir();
        var options = new SyntheticDatasetOptions { Seed = 3, PretrainPairs = 4, SftRecords = 0, EvalImages = 4, QuestionsPerEvalImage = 2, ImageSize = 32 };
        var layout = SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(options), dir.Path);
        var data = VqaDataset.Load(layout.EvalQuestions, layout.EvalAnnotations, layout.EvalImageRoot);
        var victim = data.Items[0].ImagePath;
        File.Delete(victim);
        Assert.Equal(0, Mkfifo(victim, 0b110_000_000)); // after Load: the image exists, but opening it would block
        int questions = data.Items.Count(i => i.ImagePath == victim);

        // The generator reads its images the way VlmAnswerGenerator does.
        var gen = new DelegateAnswerGenerator("reads-images", p => { foreach (var path in p.ImagePaths) VqaImageFile.Read(path); return "yes"; });
        // A regression blocks on the FIFO: WaitAsync then fails the test with a TimeoutException instead of hanging it.
        var result = await Task.Run(() => VqaEvaluationRunner.Run(data, gen, new VqaEvaluationOptions { Name = "t", Shots = 0 }, null))
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(questions, result.Skipped["image_not_a_regular_file"]);
        Assert.Equal(data.Items.Count, result.Predictions.Count + result.Skipped.Values.Sum());
    }

    [Fact]
    public void APromptPastTheContextIsACountedSkip()
    {
        using var dir = new TempDir();
        var options = new SyntheticDatasetOptions { Seed = 4, PretrainPairs = 4, SftRecords = 0, EvalImages = 3, QuestionsPerEvalImage = 2, ImageSize = 32 };
        var layout = SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(options), dir.Path);
        var data = VqaDataset.Load(layout.EvalQuestions, layout.EvalAnnotations, layout.EvalImageRoot);
        long tooLong = data.Items[0].QuestionId;
        var gen = new DelegateAnswerGenerator("short-context", p =>
            p.QueryQuestionId == tooLong ? throw new OpenQwen2VL.Model.Generation.PromptTooLongException(900, 512) : "yes");
        var result = VqaEvaluationRunner.Run(data, gen, new VqaEvaluationOptions { Name = "t", Shots = 0 }, null);
        Assert.Equal(1, result.Skipped[VqaEvaluationRunner.PromptTooLong]);
        Assert.Equal(data.Items.Count - 1, result.Predictions.Count);
    }

    [Fact]
    public void AQuestionsFileOverTheCapIsRefusedInOneLine()
    {
        using var dir = new TempDir();
        var questions = Path.Combine(dir.Path, "questions.json");
        using (var f = File.Create(questions)) f.SetLength(VqaDataset.MaxJsonBytes + 1); // sparse: no disk used
        var annotations = Path.Combine(dir.Path, "annotations.json");
        File.WriteAllText(annotations, """{"annotations": []}""");
        var e = Assert.Throws<InvalidDataException>(() => VqaDataset.Load(questions, annotations, dir.Path));
        Assert.Contains(questions, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
