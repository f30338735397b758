using System.Runtime.InteropServices;
using OpenQwen2VL.Cli.Commands;
using OpenQwen2VL.Tests.Shards;
using static OpenQwen2VL.Tests.Integration.CliInvocation;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// Out-of-range options, config keys, hostile tokenizer.json and questions files: each is exit code 2 with one line that
/// names the option (or file), the value and what is allowed, before any work; never a stack trace.
/// </summary>
// In the libtorch collection: `train` loads libtorch, and its Spectre progress display is process-wide (a second one at
// the same time fails), so these in-process runs must not overlap PipelineChainTests' training runs.
[Collection(TorchGlobalState.Name)]
public sealed class ArgumentValidationTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string Tokenizer => ReferenceFixtures.File("tokenizer.json");

    public void Dispose() => _dir.Dispose();

    private string AFile()
    {
        var path = _dir.File("a-file");
        File.WriteAllText(path, "not a folder");
        return path;
    }

    private string[] Pack(params string[] extra) => ["pack", "--input", _dir.File("in"), "--tokenizer", Tokenizer, "--out", _dir.File("packed"), .. extra];

    private string[] Train(params string[] extra) =>
        ["train", "--stage", "pretrain", "--data", "synthetic:4", "--preset", "tiny", "--tokenizer", Tokenizer, "--out", _dir.File("run"), .. extra];

    [Theory]
    [InlineData("--threads", "0", "--threads 0: must be in [1, ")]
    [InlineData("--threads", "100000", "--threads 100000: must be in [1, ")]
    [InlineData("--visual-tokens", "0", "--visual-tokens 0: must be a positive square")]
    [InlineData("--image-size", "0", "--image-size 0: must be >= 1")]
    [InlineData("--capacity", "-5", "--capacity -5: must be >= 1")]
    [InlineData("--max-pixels", "0", "--max-pixels 0: must be >= 1")]
    [InlineData("--max-member-bytes", "0", "--max-member-bytes 0: must be in [1, 1073741824]")]
    [InlineData("--decode-budget-mib", "0", "--decode-budget-mib 0: must be in [1, 1048576]")]
    [InlineData("--decode-budget-mib", "2097152", "--decode-budget-mib 2097152: must be in [1, 1048576]")]
    public void PackOptionsOutsideTheirRange(string option, string value, string expected) =>
        Assert.Contains(expected, UserError(Pack(option, value)));

    [Fact]
    public void AFileGivenAsTheOutputFolderIsRefused()
    {
        string file = AFile();
        Assert.Contains($"--out {file}: is a file", UserError(["pack", "--input", _dir.File("in"), "--tokenizer", Tokenizer, "--out", file]));
        Assert.Contains($"--out {file}: is a file", UserError(["synth", "--out", file]));
        Assert.Contains($"--out {file}: is a file", UserError(["demo", "--out", file]));
        Assert.Equal("not a folder", File.ReadAllText(file));
    }

    [Theory]
    [InlineData("--max-steps", "0", "--max-steps 0: must be >= 1")]
    [InlineData("--max-steps", "-1", "--max-steps -1: must be >= 1")]
    [InlineData("--stop-at", "-3", "--stop-at -3: must be >= 1")]
    [InlineData("--visual-tokens", "0", "--visual-tokens 0: must be a positive square")]
    [InlineData("--set", "learning_rate=-0.1", "learning_rate -0.1: must be > 0")]
    [InlineData("--set", "warmup_ratio=5", "warmup_ratio 5: must be in [0, 1]")]
    [InlineData("--set", "global_batch_sequences=0", "global_batch_sequences 0: must be >= 1")]
    [InlineData("--set", "precision=fp8", "precision 'fp8': must be one of auto, bf16, fp32")]
    [InlineData("--set", "visual_tokens=0", "visual_tokens 0: must be a positive square")]
    [InlineData("--set", "keep_last_checkpoints=0", "keep_last_checkpoints 0: must be >= 1")]
    [InlineData("--decode-budget-mib", "-1", "--decode-budget-mib -1: must be in [1, 1048576]")]
    public void TrainOptionsAndConfigKeysOutsideTheirRange(string option, string value, string expected)
    {
        Assert.Contains(expected, UserError(Train(option, value)));
        Assert.False(Directory.Exists(_dir.File("run")), "the run folder was written before the check");
    }

    [Theory]
    [InlineData("synth", "--image-size", "0", "--image-size 0: must be in [16, 1024]")]
    [InlineData("synth", "--noise", "2", "--noise 2: must be in [0, 1]")]
    [InlineData("curate", "--keep-fraction", "0", "--keep-fraction 0: must be in (0, 1]")]
    [InlineData("curate", "--threshold", "7", "--threshold 7: must be in [-1, 1]")]
    [InlineData("curate", "--max-member-bytes", "2147483648", "--max-member-bytes 2147483648: must be in [1, 1073741824]")]
    [InlineData("curate", "--decode-budget-mib", "0", "--decode-budget-mib 0: must be in [1, 1048576]")]
    [InlineData("evaluate", "--limit", "0", "--limit 0: must be >= 1")]
    [InlineData("demo", "--pretrain-steps", "0", "--pretrain-steps 0: must be >= 1")]
    public void OtherCommandsCheckTheirRanges(string command, string option, string value, string expected)
    {
        string[] required = command switch
        {
            "synth" => ["--out", _dir.File("s")],
            "curate" => ["--input", _dir.File("in"), "--out", _dir.File("c")],
            "demo" => ["--out", _dir.File("d")],
            _ => ["--baseline", "majority"],
        };
        Assert.Contains(expected, UserError([command, .. required, option, value]));
    }

    [Theory]
    [InlineData("""{ "model": { "type": "BPE", "vocab": {""", "tokenizer")]
    [InlineData("""{ "model": { "type": "BPE", "vocab": { "a": 0, "b": 1 }, "merges": ["a z"] }, "pre_tokenizer": { "type": "ByteLevel" } }""", "missing from the vocabulary")]
    [InlineData("""{ "model": { "type": "BPE", "vocab": { "a": -1 }, "merges": [] }, "pre_tokenizer": { "type": "ByteLevel" } }""", "id -1")]
    [InlineData("""{ "model": { "type": "BPE", "vocab": { "a": 2147483648 }, "merges": [] }, "pre_tokenizer": { "type": "ByteLevel" } }""", "id 2147483648")]
    [InlineData("""{ "model": { "type": "Unigram", "vocab": [] }, "pre_tokenizer": { "type": "ByteLevel" } }""", "Unigram")]
    [InlineData("""{ "model": { "type": "BPE", "vocab": {}, "merges": [] }, "pre_tokenizer": { "type": "ByteLevel" } }""", "vocabulary is empty")]
    public void AHostileTokenizerIsOneLineNamingTheFile(string json, string problem)
    {
        string path = _dir.File("hostile-tokenizer.json");
        File.WriteAllText(path, json);
        OpenQwen2VL.Synthetic.SyntheticCaptionShards.Write(_dir.File("in"), 1, 2, imageSide: 24);
        var line = UserError(["pack", "--input", _dir.File("in"), "--tokenizer", path, "--out", _dir.File("packed")]);
        Assert.Contains(path, line);
        Assert.Contains(problem, line);
        line = UserError(["demo", "--tokenizer", path, "--out", _dir.File("demo")]);
        Assert.Contains(path, line);
        Assert.False(Directory.Exists(_dir.File("demo")), "the demo started before checking its tokenizer");
    }

    [Fact]
    public void ADuplicateQuestionIdIsOneLineNamingIt()
    {
        string questions = _dir.File("q.json"), annotations = _dir.File("a.json"), images = _dir.File("images");
        Directory.CreateDirectory(images);
        File.WriteAllText(questions, """{ "questions": [ { "question_id": 5, "image_id": 1, "question": "what?" }, { "question_id": 5, "image_id": 2, "question": "who?" } ] }""");
        File.WriteAllText(annotations, """{ "annotations": [ { "question_id": 5, "answers": [ { "answer": "yes" } ] } ] }""");
        var line = UserError(["evaluate", "--questions", questions, "--annotations", annotations, "--images", images, "--baseline", "majority"]);
        Assert.Contains("question_id 5 appears more than once", line);
        Assert.Contains(questions, line);
    }

    [Fact]
    public void ASignalledRunExitsWith128PlusTheSignalAndHelpSaysSo()
    {
        Assert.Equal(143, TrainCommand.InterruptedExitCode(PosixSignal.SIGTERM));
        Assert.Equal(130, TrainCommand.InterruptedExitCode(PosixSignal.SIGINT));
        var (rc, output, _) = Invoke("train", "--help");
        Assert.Equal(0, rc);
        Assert.Contains("143 (SIGTERM)", output);
    }
}
