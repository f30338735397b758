using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// `oqvl generate` pointed at downloaded-looking model folders: crafted weights or configs (written here) are one line
/// and exit code 2; a symlinked HF snapshot works.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class HostileCheckpointTests
{
    /// <summary>An --llm folder holding the fixture's files, with <paramref name="replace"/> written over some of them.</summary>
    private static string LlmFolder(TempDir tmp, params (string Name, byte[] Bytes)[] replace)
    {
        var dir = Directory.CreateDirectory(tmp.File("llm")).FullName;
        foreach (var name in new[] { "config.json", "model.safetensors" })
            File.Copy(ReferenceFixtures.File("qwen2", name), Path.Combine(dir, name));
        foreach (var (name, bytes) in replace) File.WriteAllBytes(Path.Combine(dir, name), bytes);
        return dir;
    }

    private static string[] Generate(string llm) =>
    [
        "generate", "--llm", llm, "--vision", ReferenceFixtures.File("siglip"), "--projector", ReferenceFixtures.File("projector.safetensors"),
        "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--prompt", "hi", "--max-new-tokens", "2",
    ];

    private static byte[] Safetensors(string header, int dataBytes, ulong? headerLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    [Fact]
    public void ANegativeDataOffsetIsOneLineAndExitCode2()
    {
        using var tmp = new TempDir();
        var llm = LlmFolder(tmp, ("model.safetensors",
            Safetensors("{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-8,-4]}}", 16)));
        var line = CliInvocation.UserError(Generate(llm));
        Assert.Contains(Path.Combine(llm, "model.safetensors"), line);
        Assert.Contains("data offset -8 is not a non-negative integer", line);
    }

    [Fact]
    public void AnAbsurdHeaderLengthIsOneLineAndExitCode2()
    {
        using var tmp = new TempDir();
        var llm = LlmFolder(tmp, ("model.safetensors", Safetensors("{}", 0, headerLength: (1UL << 63) - 8)));
        Assert.Contains("bad safetensors header length 9223372036854775800", CliInvocation.UserError(Generate(llm)));
    }

    private static byte[] FixtureConfigWith(string key, string json)
    {
        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("qwen2", "config.json")))!;
        config[key] = JsonNode.Parse(json);
        return Encoding.UTF8.GetBytes(config.ToJsonString());
    }

    [Theory]
    [InlineData("num_hidden_layers", "1e6", "num_hidden_layers must be an integer in [1, 1024], got 1e6")]
    [InlineData("hidden_size", "\"64\"", "hidden_size must be an integer in [1, 65536], got \"64\"")]
    [InlineData("num_hidden_layers", "3", "the LLM config says num_hidden_layers = 3, the weights hold 2 layers")]
    [InlineData("vocab_size", "151936", "the config says vocab_size = 151936, the weights' model.embed_tokens.weight has 1505 rows")]
    public void ACraftedConfigIsOneLineAndExitCode2(string key, string json, string fragment)
    {
        using var tmp = new TempDir();
        var llm = LlmFolder(tmp, ("config.json", FixtureConfigWith(key, json)));
        Assert.Contains(fragment, CliInvocation.UserError(Generate(llm)));
    }

    [Fact]
    public void AConfigWithoutSizesIsOneLineAndExitCode2()
    {
        using var tmp = new TempDir();
        var llm = LlmFolder(tmp, ("config.json", "{}"u8.ToArray()));
        Assert.Contains("is missing", CliInvocation.UserError(Generate(llm)));
    }

    [Fact]
    public void ASymlinkedHfSnapshotGenerates()
    {
        using var tmp = new TempDir();
        var blobs = Directory.CreateDirectory(tmp.File("blobs")).FullName;
        var snapshot = Directory.CreateDirectory(tmp.File(Path.Combine("snapshots", "rev"))).FullName;
        foreach (var name in new[] { "config.json", "model.safetensors" })
        {
            File.Copy(ReferenceFixtures.File("qwen2", name), Path.Combine(blobs, name + ".blob"));
            File.CreateSymbolicLink(Path.Combine(snapshot, name), Path.Combine("..", "..", "blobs", name + ".blob"));
        }
        var (rc, _, err) = CliInvocation.Invoke(Generate(snapshot));
        Assert.True(rc == 0, err);
    }
}
