using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Tests.Shards;
using static OpenQwen2VL.Tests.Integration.CliInvocation;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// The README's pipeline with folders only, at tiny size, through the real command line:
/// synth → curate → pack → train (pretrain, preset tiny) → train (sft, --model the pre-training run) → evaluate → generate.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class PipelineChainTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string P(string name) => _dir.File(name);

    public void Dispose() => _dir.Dispose();

    private static JsonObject Manifest(string dir) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, StageManifest.FileName)))!.AsObject();

    private static string[] Tiny(int steps) =>
        ["--max-steps", steps.ToString(), "--set", "global_batch_sequences=2", "--set", "micro_batch_sequences=2", "--set", "activation_checkpointing=false"];

    [Fact]
    public void FoldersOnlyFromSynthToGenerate()
    {
        Succeeds("synth", "--out", P("synth"), "--pretrain", "120", "--sft", "40", "--eval-images", "3", "--shard-size", "60");
        Succeeds("curate", "--input", P("synth"), "--out", P("curated"), "--epochs", "1", "--batch-size", "32");
        Succeeds("pack", "--input", P("curated"), "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", P("packed"),
            "--capacity", "512", "--visual-tokens", "16");
        Succeeds(["train", "--stage", "pretrain", "--preset", "tiny", "--data", P("packed"), "--out", P("runs/pt"), .. Tiny(2)]);
        Succeeds(["train", "--stage", "sft", "--model", P("runs/pt"), "--data", P("synth"), "--out", P("runs/sft"), .. Tiny(2)]);
        Succeeds("evaluate", "--model", P("runs/sft"), "--data", P("synth"), "--out", P("eval"), "--limit", "4");
        var (rc, output, err) = Invoke("generate", "--model", P("runs/sft"), "--image", Directory.GetFiles(Path.Combine(P("synth"), "eval", "images"))[0],
            "--prompt", "What shape is shown?", "--max-new-tokens", "3", "--show-ids");
        Assert.True(rc == 0, err);
        Assert.Contains("generated ids: [", output);

        // Every stage folder says what it is and what it was made from.
        Assert.Equal("synthetic", (string)Manifest(P("synth"))["kind"]!);
        var curated = Manifest(P("curated"));
        Assert.Equal("curated", (string)curated["kind"]!);
        Assert.Equal(Path.GetFullPath(P("synth")), (string)curated["inputs"]![0]!["path"]!);
        var packed = Manifest(P("packed"));
        Assert.Equal(Path.GetFullPath(P("curated")), (string)packed["inputs"]![0]!["path"]!);
        Assert.Equal(16, (int)packed["visual"]!["tokens_per_image"]!);
        Assert.StartsWith("oqvl pack --input", (string)packed["producer"]!["command"]!);
        var pt = Manifest(P("runs/pt"));
        Assert.Equal("run", (string)pt["kind"]!);
        Assert.Equal(Path.GetFullPath(P("packed")), (string)pt["inputs"]![0]!["path"]!);
        // The preset is sized from the packed data's tokenizer.
        Assert.Equal((string)packed["tokenizer"]!["fingerprint"]!, (string)pt["tokenizer"]!["fingerprint"]!);
        Assert.Equal((int)packed["tokenizer"]!["vocab_size"]!, (int)pt["model"]!["llm_config"]!["vocab_size"]!);
        var sft = Manifest(P("runs/sft"));
        Assert.Equal("chatml", (string)sft["prompt_format"]!);
        Assert.Equal(Path.GetFullPath(P("synth")), (string)sft["inputs"]![0]!["path"]!);
        Assert.Equal(Path.GetFullPath(Path.Combine(P("runs/pt"), "final")), (string)sft["inputs"]![1]!["path"]!);
        // SFT stops pooling (the low-to-high switch): the tiny tower's full 8x8 grid.
        Assert.Equal(64, (int)sft["visual"]!["tokens_per_image"]!);
        var model = Manifest(Path.Combine(P("runs/sft"), "final"));
        Assert.Equal("model", (string)model["kind"]!);
        Assert.Equal("tiny", (string)model["model"]!["preset"]!);
        Assert.Single(Directory.GetFiles(P("eval"), "*_summary.json"));
    }

    [Fact]
    public void AnInterruptedRunIsAModelThroughItsLatestCheckpoint()
    {
        Succeeds("synth", "--out", P("synth"), "--pretrain", "60", "--sft", "0", "--eval-images", "1", "--shard-size", "60");
        Succeeds("pack", "--input", P("synth"), "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", P("packed"),
            "--capacity", "512", "--visual-tokens", "16");
        Succeeds(["train", "--stage", "pretrain", "--preset", "tiny", "--data", P("packed"), "--out", P("run"), "--stop-at", "1", .. Tiny(3)]);
        Assert.False(Directory.Exists(Path.Combine(P("run"), "final")));
        var image = Directory.GetFiles(Path.Combine(P("synth"), "eval", "images"))[0];
        var (rc, output, err) = Invoke("generate", "--model", P("run"), "--image", image, "--prompt", "<image>", "--max-new-tokens", "2");
        Assert.True(rc == 0, err);
        Assert.Contains("checkpoint at step 1", err);
        // The same weights as the resumed run's first checkpoint: resuming and finishing gives a final/ that loads too.
        Succeeds(["train", "--stage", "pretrain", "--preset", "tiny", "--data", P("packed"), "--out", P("run"), "--resume", .. Tiny(3)]);
        var (rc2, _, err2) = Invoke("generate", "--model", P("run"), "--image", image, "--prompt", "<image>", "--max-new-tokens", "2");
        Assert.True(rc2 == 0, err2);
        Assert.Contains("(final/)", err2);
    }
}
