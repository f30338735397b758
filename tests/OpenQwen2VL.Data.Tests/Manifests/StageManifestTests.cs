using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Manifests;

public class StageManifestTests
{
    private static StageManifest Sample() => new()
    {
        Kind = StageKinds.Packed,
        Inputs = [new ManifestInput(StageKinds.Curated, "/data/curated")],
        Tokenizer = new TokenizerFacts { Fingerprint = "abc123", VocabSize = 1505, SpecialIds = new() { ["<s>"] = 1504 } },
        Visual = new VisualFacts { TokensPerImage = 144, ImageSize = 384 },
        PromptFormat = "caption", ContextLength = 4096,
        Files = new() { ["stats"] = "stats.json" }, Shards = ["packed-00000.tar", "packed-00001.tar"],
        Details = new JsonObject { ["packs"] = 12 },
    };

    [Fact]
    public void RoundTripsEveryField()
    {
        using var dir = new TempDir();
        var written = Sample();
        written.Write(dir.Path);
        var read = StageManifest.Read(dir.Path);
        Assert.Equal(written.ToJson(), read.ToJson());
        Assert.Equal(dir.Path, read.Directory);
        Assert.Equal(12, read.Visual!.PoolSide);
        Assert.Equal(written.Producer, read.Producer);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("chatml")]
    [InlineData("open-qwen2vl")]
    public void PromptFormatRoundTripsUnderItsName(string format)
    {
        Assert.Contains(format, OpenQwen2VL.Data.Prompts.PromptFormats.All);
        using var dir = new TempDir();
        (Sample() with { Kind = StageKinds.Model, PromptFormat = format }).Write(dir.Path);
        Assert.Contains($"\"prompt_format\": \"{format}\"", File.ReadAllText(Path.Combine(dir.Path, StageManifest.FileName)));
        Assert.Equal(format, StageManifest.Read(dir.Path).PromptFormat);
    }

    [Theory]
    [InlineData("{\"kind\": \"packed\"", "malformed")]
    [InlineData("[1, 2, 3]", "malformed")]
    [InlineData("{\"format_version\": 1}", "malformed")]
    [InlineData("{\"kind\": \"packed\", \"format_version\": 7}", "format version 7")]
    [InlineData("{\"kind\": \"packed\", \"visual\": {\"tokens_per_image\": \"many\"}}", "malformed")]
    [InlineData("{\"kind\": 5}", "malformed")]
    public void UnreadableManifestsAreOneLineContractErrors(string json, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, StageManifest.FileName), json);
        var e = Assert.Throws<StageContractException>(() => StageManifest.Read(dir.Path));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void MissingFolderOrManifestSaysWhat()
    {
        using var dir = new TempDir();
        Assert.Contains("not found", Assert.Throws<StageContractException>(() => StageManifest.Read(Path.Combine(dir.Path, "nope"))).Message);
        Assert.Contains("no manifest.json", Assert.Throws<StageContractException>(() => StageManifest.Read(dir.Path)).Message);
    }

    [Fact]
    public void KindFilesAndShardsAreCheckedOnUse()
    {
        using var dir = new TempDir();
        Sample().Write(dir.Path);
        var m = StageManifest.Read(dir.Path);
        Assert.Same(m, m.RequireKind("train --data", StageKinds.Packed));
        var wrongKind = Assert.Throws<StageContractException>(() => m.RequireKind("evaluate --data", StageKinds.Synthetic));
        Assert.Contains("a packed folder (oqvl pack), but evaluate --data takes a synthetic folder (oqvl synth)", wrongKind.Message);
        Assert.Contains("stats.json", Assert.Throws<StageContractException>(() => m.RequireFile("stats")).Message);
        Assert.Contains("names no header", Assert.Throws<StageContractException>(() => m.RequireFile("header")).Message);
        File.WriteAllText(Path.Combine(dir.Path, "packed-00000.tar"), "");
        var missing = Assert.Throws<StageContractException>(() => m.RequireShards());
        Assert.Contains("1 of its 2 shards are missing", missing.Message);
        Assert.Contains("packed-00001.tar", missing.Message);
        File.WriteAllText(Path.Combine(dir.Path, "packed-00001.tar"), "");
        Assert.Equal(2, m.RequireShards().Count);
    }

    [Fact]
    public void ShardInputsAcceptStageFoldersPlainFoldersAndSpecs()
    {
        using var dir = new TempDir();
        string synth = Path.Combine(dir.Path, "synth"), plain = Path.Combine(dir.Path, "plain");
        Directory.CreateDirectory(Path.Combine(synth, "pretrain"));
        Directory.CreateDirectory(plain);
        foreach (var f in new[] { Path.Combine(synth, "pretrain", "00000.tar"), Path.Combine(plain, "b.tar"), Path.Combine(plain, "a.tar") }) File.WriteAllText(f, "");
        new StageManifest { Kind = StageKinds.Synthetic, Shards = ["pretrain/00000.tar"] }.Write(synth);

        var fromStage = ShardInputs.Resolve(synth, "pack --input");
        Assert.Equal([Path.Combine(synth, "pretrain", "00000.tar")], fromStage.Paths);
        Assert.Equal(StageKinds.Synthetic, Assert.Single(fromStage.Lineage).Kind);
        Assert.Equal([Path.Combine(plain, "a.tar"), Path.Combine(plain, "b.tar")], ShardInputs.Resolve(plain, "pack --input").Paths);
        Assert.Empty(ShardInputs.Resolve(plain, "pack --input").Lineage);
        Assert.Equal(2, ShardInputs.Resolve(Path.Combine(plain, "{a,b}.tar"), "pack --input").Paths.Count);
        Assert.Contains("none of the 2 shards", Assert.Throws<StageContractException>(() => ShardInputs.Resolve(Path.Combine(plain, "{c,d}.tar"), "pack --input")).Message);
        Assert.Contains("unbalanced", Assert.Throws<StageContractException>(() => ShardInputs.Resolve(Path.Combine(plain, "{a.tar"), "pack --input")).Message);
        new StageManifest { Kind = StageKinds.Packed }.Write(plain);
        Assert.Contains("takes", Assert.Throws<StageContractException>(() => ShardInputs.Resolve(plain, "pack --input")).Message);
    }
}
