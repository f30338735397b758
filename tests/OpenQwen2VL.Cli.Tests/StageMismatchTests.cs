using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Tests.Shards;
using static OpenQwen2VL.Tests.Integration.CliInvocation;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>Synthetic caption shards and the fixture tokenizer, made once for the mismatch tests.</summary>
public sealed class MismatchData : IDisposable
{
    public TempDir Dir { get; } = new();
    public string Synth => Dir.File("synth");
    public string Tokenizer => ReferenceFixtures.File("tokenizer.json");

    public MismatchData()
    {
        var (rc, _, err) = Invoke("synth", "--out", Synth, "--pretrain", "40", "--sft", "0", "--eval-images", "1");
        Assert.True(rc == 0, err);
    }

    /// <summary>Packs the synthetic shards into a new folder with extra pack flags.</summary>
    public string Pack(string name, params string[] flags)
    {
        string dir = Dir.File(name);
        string[] visual = flags.Contains("--visual-tokens") ? [] : ["--visual-tokens", "16"];
        var (rc, _, err) = Invoke(["pack", "--input", Synth, "--tokenizer", Tokenizer, "--out", dir, "--capacity", "512", .. visual, .. flags]);
        Assert.True(rc == 0, err);
        return dir;
    }

    public void Dispose() => Dir.Dispose();
}

/// <summary>
/// One test per class of mistake between stages: each is refused before any compute with exit code 2 and one line that
/// names both values (and the fix), never a stack trace.
/// </summary>
// In the libtorch collection: `train` loads libtorch, and its Spectre progress display is process-wide (a second one at
// the same time fails), so these in-process runs must not overlap PipelineChainTests' training runs.
[Collection(TorchGlobalState.Name)]
public sealed class StageMismatchTests(MismatchData data) : IClassFixture<MismatchData>
{
    private string Train(string packed, params string[] extra) =>
        UserError(["train", "--stage", "pretrain", "--preset", "tiny", "--data", packed, "--out", data.Dir.File("run-" + Guid.NewGuid().ToString("N")[..8]),
            "--max-steps", "1", .. extra]);

    [Fact]
    public void VisualTokens()
    {
        var line = Train(data.Pack("p36", "--visual-tokens", "36"));
        Assert.Contains("36 visual tokens per image (pool 6x6)", line);
        Assert.Contains("4x4 = 16", line);
        Assert.Contains("--visual-tokens 16", line);   // the fix
    }

    [Fact]
    public void Tokenizer()
    {
        string packed = data.Pack("p-tok");
        // Another tokenizer: the same file with one more added token.
        var json = JsonNode.Parse(File.ReadAllText(data.Tokenizer))!;
        var added = json["added_tokens"]!.AsArray();
        int next = added.Max(t => (int)t!["id"]!) + 1;
        added.Add(new JsonObject { ["id"] = next, ["content"] = "<|other|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
        string other = data.Dir.File("other-tokenizer.json");
        File.WriteAllText(other, json.ToJsonString());
        var line = Train(packed, "--tokenizer", other);
        var manifest = StageManifest.Read(packed);
        Assert.Contains(manifest.Tokenizer!.Fingerprint[..12], line);
        Assert.Contains("repack with --tokenizer " + other, line);
    }

    [Fact]
    public void Vocabulary()
    {
        string packed = data.Pack("p-vocab");
        // A manifest whose tokenizer hands out more ids than the model's embedding has rows (same fingerprint).
        var node = JsonNode.Parse(File.ReadAllText(Path.Combine(packed, StageManifest.FileName)))!;
        node["tokenizer"]!["vocab_size"] = 99_999;
        File.WriteAllText(Path.Combine(packed, StageManifest.FileName), node.ToJsonString());
        var line = Train(packed);
        Assert.Contains("99,998", line);
        Assert.Contains("1,505 rows", line);
    }

    [Fact]
    public void ImageSize()
    {
        var line = Train(data.Pack("p-img", "--image-size", "32"));
        Assert.Contains("32 px", line);
        Assert.Contains("56 px", line);
        Assert.Contains("--image-size 56", line);
    }

    [Fact]
    public void ContextLength()
    {
        var line = Train(data.Pack("p-ctx"), "--set", "sequence_length=256");
        Assert.Contains("512 tokens", line);
        Assert.Contains("sequence_length 256", line);
    }

    [Fact]
    public void MissingShard()
    {
        string packed = data.Pack("p-missing", "--packs-per-shard", "1");
        var shards = StageManifest.Read(packed).Shards;
        Assert.True(shards.Count >= 2, $"{shards.Count} shards");
        File.Delete(Path.Combine(packed, shards[^1]));
        var line = Train(packed);
        Assert.Contains("incomplete", line);
        Assert.Contains(shards[^1], line);
        // A spec naming shards that do not exist.
        Assert.Contains("do not exist", Train($"shards:{data.Dir.File("nowhere")}/{{00000..00003}}.tar"));
        Assert.Contains("not found", Train(data.Dir.File("nowhere")));
    }

    [Fact]
    public void MalformedManifest()
    {
        string packed = data.Pack("p-bad");
        File.WriteAllText(Path.Combine(packed, StageManifest.FileName), """{"kind": "packed", "format_version": 1""");
        Assert.Contains("malformed", Train(packed));
        File.WriteAllText(Path.Combine(packed, StageManifest.FileName), """{"kind": "packed", "format_version": 99}""");
        Assert.Contains("format version 99", Train(packed));
        File.WriteAllText(Path.Combine(packed, StageManifest.FileName), "[1, 2]");
        Assert.Contains("malformed", Train(packed));
    }

    [Fact]
    public void AFolderThatIsNotAModel()
    {
        Assert.Contains("not a model", UserError("generate", "--model", data.Synth, "--prompt", "x"));
        Assert.Contains("not a model", UserError("evaluate", "--model", data.Synth, "--data", data.Synth));
        // A packed folder handed to a command that reads caption shards.
        Assert.Contains("a packed folder (oqvl pack)", UserError("curate", "--input", data.Pack("p-curate"), "--out", data.Dir.File("c")));
    }
}
