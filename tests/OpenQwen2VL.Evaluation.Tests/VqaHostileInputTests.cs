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

    // Found by fuzzing (fuzz/run vqa-json): a missing or mistyped field was a KeyNotFoundException or an
    // InvalidOperationException (an "internal error" in the CLI); invalid UTF-8 in a string threw when the string was read.
    [Theory]
    [InlineData("""{"questions":[{"image_id":1,"question":"q"}]}""", "question 0 has no \"question_id\"")]
    [InlineData("""{"questions":[{"question_id":"7","image_id":1,"question":"q"}]}""", "question 0: \"question_id\" is a JSON string, expected a JSON number")]
    [InlineData("""{"questions":[{"question_id":7.5,"image_id":1,"question":"q"}]}""", "\"question_id\" is not a 64-bit integer")]
    [InlineData("""{"questions":[{"question_id":7,"image_id":1,"question":3}]}""", "\"question\" is a JSON number, expected a JSON string")]
    [InlineData("""{"questions":{"question_id":7}}""", "the file: \"questions\" is a JSON object, expected a JSON array")]
    [InlineData("""[1,2]""", "the file is a JSON array, not an object")]
    [InlineData("{\"questions\":[{\"question_id\":7,\"image_id\":1,\"question\":\"\u00ff\"}]}", "not valid UTF-8 text")]
    public void AMalformedQuestionsFileIsRefusedInOneLineNamingTheEntry(string questionsJson, string fragment)
    {
        using var dir = new TempDir();
        var questions = Path.Combine(dir.Path, "questions.json");
        // \u00ff stands for a lone 0xFF byte (invalid UTF-8), written as such.
        File.WriteAllBytes(questions, [.. System.Text.Encoding.UTF8.GetBytes(questionsJson.Replace("\u00ff", "\u0001")).Select(b => b == 1 ? (byte)0xFF : b)]);
        var annotations = Path.Combine(dir.Path, "annotations.json");
        File.WriteAllText(annotations, """{"annotations": [{"question_id": 7, "answers": [{"answer": "x"}]}]}""");
        var e = Assert.Throws<InvalidDataException>(() => VqaDataset.Load(questions, annotations, dir.Path));
        Assert.StartsWith(questions, e.Message);
        Assert.Contains(fragment, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnAnswerThatIsNotAStringIsRefusedInOneLine()
    {
        using var dir = new TempDir();
        var questions = Path.Combine(dir.Path, "questions.json");
        File.WriteAllText(questions, """{"questions":[{"question_id":7,"image_id":1,"question":"q"}]}""");
        var annotations = Path.Combine(dir.Path, "annotations.json");
        File.WriteAllText(annotations, """{"annotations": [{"question_id": 7, "answers": [{"answer": "x"}, {"answer": 2}]}]}""");
        var e = Assert.Throws<InvalidDataException>(() => VqaDataset.Load(questions, annotations, dir.Path));
        Assert.Equal($"{annotations}: answer 1 of question 7: \"answer\" is a JSON number, expected a JSON string", e.Message);
    }
}
