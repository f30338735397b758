using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>
/// Crafted config.json files (written here): a missing size, a wrong JSON type, an absurd size or a config that
/// disagrees with its weights is one line naming the file and the field, before any module is built. No libtorch.
/// </summary>
public sealed class HostileConfigTests
{
    private static JsonObject FixtureQwen2() => (JsonObject)JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("qwen2", "config.json")))!;

    private static string WriteConfig(TempDir tmp, JsonObject config)
    {
        var path = tmp.File("config.json");
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    private static string OneLine(Exception e, string fragment)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(fragment, e.Message);
        return e.Message;
    }

    [Theory]
    [InlineData("vocab_size")]
    [InlineData("hidden_size")]
    [InlineData("intermediate_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("num_attention_heads")]
    public void AMissingSizeIsAnErrorNotA7BDefault(string key)
    {
        using var tmp = new TempDir();
        var config = FixtureQwen2();
        config.Remove(key);
        var path = WriteConfig(tmp, config);
        var msg = OneLine(Assert.Throws<InvalidDataException>(() => Qwen2Config.Load(path)), $"{key} is missing");
        Assert.StartsWith(path, msg);
    }

    [Fact]
    public void AnEmptyConfigIsAnError()
    {
        using var tmp = new TempDir();
        OneLine(Assert.Throws<InvalidDataException>(() => Qwen2Config.Load(WriteConfig(tmp, new JsonObject()))), "is missing");
    }

    [Theory]
    [InlineData("num_hidden_layers", "1e6", "num_hidden_layers must be an integer in [1, 1024], got 1e6")]
    [InlineData("num_hidden_layers", "1000000", "num_hidden_layers must be an integer in [1, 1024], got 1000000")]
    [InlineData("hidden_size", "\"64\"", "hidden_size must be an integer in [1, 65536], got \"64\"")]
    [InlineData("hidden_size", "-64", "hidden_size must be an integer in [1, 65536], got -64")]
    [InlineData("vocab_size", "1505.5", "vocab_size must be an integer")]
    [InlineData("vocab_size", "[1505]", "vocab_size must be an integer")]
    [InlineData("intermediate_size", "null", "intermediate_size is missing")]
    [InlineData("num_key_value_heads", "{}", "num_key_value_heads must be an integer")]
    [InlineData("head_dim", "3", "head dim 3 must be positive and even")]
    [InlineData("tie_word_embeddings", "\"yes\"", "tie_word_embeddings must be true or false, got \"yes\"")]
    [InlineData("rms_norm_eps", "-1", "rms_norm_eps must be a number in (0, 1], got -1")]
    [InlineData("rope_theta", "\"big\"", "rope_theta must be a number")]
    [InlineData("eos_token_id", "[1, \"a\"]", "eos_token_id must be an integer")]
    [InlineData("bos_token_id", "-3", "bos_token_id must be an integer")]
    [InlineData("torch_dtype", "16", "torch_dtype must be a string")]
    [InlineData("rope_scaling", "{\"rope_type\": 3}", "rope_scaling.rope_type must be a string")]
    [InlineData("use_sliding_window", "\"no\"", "use_sliding_window must be true or false")]
    public void WrongTypesAndAbsurdSizesAreOneLineNamingTheField(string key, string json, string fragment)
    {
        using var tmp = new TempDir();
        var config = FixtureQwen2();
        config[key] = JsonNode.Parse(json);
        var path = WriteConfig(tmp, config);
        var msg = OneLine(Assert.Throws<InvalidDataException>(() => Qwen2Config.Load(path)), fragment);
        Assert.StartsWith(path, msg);
    }

    [Theory]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{\"vocab_size\": ", "not valid JSON")]
    [InlineData("{\"vocab_size\": 1, \"vocab_size\": 2}", "not valid JSON")]
    public void UnreadableConfigsAreOneLine(string text, string fragment)
    {
        using var tmp = new TempDir();
        var path = tmp.File("config.json");
        File.WriteAllText(path, text);
        Assert.StartsWith(path, OneLine(Assert.Throws<InvalidDataException>(() => Qwen2Config.Load(path)), fragment));
        Assert.StartsWith(path, OneLine(Assert.Throws<InvalidDataException>(() => SiglipVisionConfig.Load(path)), fragment));
        Assert.StartsWith(path, OneLine(Assert.Throws<InvalidDataException>(() => HfCheckpointConfig.ReadTieWordEmbeddings(path)), fragment));
    }

    [Fact]
    public void AnOversizedConfigIsRefusedBeforeReading()
    {
        using var tmp = new TempDir();
        var path = tmp.File("config.json");
        using (var fs = File.Create(path)) fs.SetLength(HfConfigFields.MaxConfigBytes + 1);   // sparse
        OneLine(Assert.Throws<InvalidDataException>(() => Qwen2Config.Load(path)), "too large for a model config");
    }

    [Theory]
    [InlineData("hidden_size", "\"x\"", "(vision_config): hidden_size must be an integer")]
    [InlineData("image_size", "1000000000", "image_size must be an integer in [1, 4096]")]
    [InlineData("num_hidden_layers", "100000", "num_hidden_layers must be an integer in [1, 1024]")]
    [InlineData("layer_norm_eps", "\"tiny\"", "layer_norm_eps must be a number")]
    [InlineData("vision_use_head", "1", "vision_use_head must be true or false")]
    public void SiglipConfigsAreTypeAndRangeChecked(string key, string json, string fragment)
    {
        using var tmp = new TempDir();
        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("siglip", "config.json")))!;
        config["vision_config"]![key] = JsonNode.Parse(json);
        var path = WriteConfig(tmp, config);
        Assert.StartsWith(path, OneLine(Assert.Throws<InvalidDataException>(() => SiglipVisionConfig.Load(path)), fragment));
    }

    private static CheckpointMismatchException LlmMismatch(string key, int value)
    {
        var config = Qwen2Config.Parse(FixtureQwen2().ToJsonString()) is var c ? key switch
        {
            "num_hidden_layers" => c with { NumHiddenLayers = value },
            "vocab_size" => c with { VocabSize = value },
            "hidden_size" => c with { HiddenSize = value },
            "intermediate_size" => c with { IntermediateSize = value },
            "num_key_value_heads" => c with { NumKeyValueHeads = value },
            _ => throw new ArgumentException(key),
        } : null!;
        using var ck = SafetensorsCheckpoint.Open(ReferenceFixtures.File("qwen2"));
        return Assert.Throws<CheckpointMismatchException>(() => ConfigWeightsCheck.Llm(config, new SafetensorsCheckpointTensors(ck)));
    }

    [Theory]
    [InlineData("num_hidden_layers", 3, "num_hidden_layers = 3, the weights hold 2 layers (model.layers.0 .. model.layers.1)")]
    [InlineData("num_hidden_layers", 1000, "num_hidden_layers = 1000, the weights hold 2 layers")]
    [InlineData("vocab_size", 1000, "vocab_size = 1000, the weights' model.embed_tokens.weight has 1505 rows")]
    [InlineData("hidden_size", 128, "hidden_size = 128, the weights' model.embed_tokens.weight has 64 columns")]
    [InlineData("intermediate_size", 999, "intermediate_size = 999, the weights' model.layers.0.mlp.gate_proj.weight has 160 rows")]
    [InlineData("num_key_value_heads", 4, "num_key_value_heads x head_dim = 64, the weights' model.layers.0.self_attn.k_proj.weight has 32 rows")]
    public void AnLlmConfigThatDisagreesWithItsWeightsIsOneLineNamingBothValues(string key, int value, string fragment)
    {
        var msg = OneLine(LlmMismatch(key, value), fragment);
        Assert.StartsWith(ReferenceFixtures.File("qwen2"), msg);
    }

    [Fact]
    public void TheFixtureConfigsAgreeWithTheirWeights()
    {
        using (var ck = SafetensorsCheckpoint.Open(ReferenceFixtures.File("qwen2")))
            ConfigWeightsCheck.Llm(Qwen2Config.Load(ReferenceFixtures.File("qwen2")), new SafetensorsCheckpointTensors(ck));
        var vision = SiglipVisionConfig.Load(ReferenceFixtures.File("siglip"));
        using (var ck = SafetensorsCheckpoint.Open(ReferenceFixtures.File("siglip")))
        {
            ConfigWeightsCheck.VisionBackbone(vision, new SafetensorsCheckpointTensors(ck));
            // A backbone export stores one block fewer than the config names: also fine.
            ConfigWeightsCheck.VisionBackbone(vision with { NumHiddenLayers = vision.NumHiddenLayers + 1 }, new SafetensorsCheckpointTensors(ck));
        }
    }

    [Theory]
    [InlineData(5, "num_hidden_layers = 5, the weights hold 3 layers")]
    [InlineData(1, "num_hidden_layers = 1, the weights hold 3 layers")]
    public void AVisionConfigThatDisagreesWithItsWeightsIsOneLine(int layers, string fragment)
    {
        var vision = SiglipVisionConfig.Load(ReferenceFixtures.File("siglip")) with { NumHiddenLayers = layers };
        using var ck = SafetensorsCheckpoint.Open(ReferenceFixtures.File("siglip"));
        OneLine(Assert.Throws<CheckpointMismatchException>(() => ConfigWeightsCheck.VisionBackbone(vision, new SafetensorsCheckpointTensors(ck))), fragment);
    }

    [Fact]
    public void AVisionGeometryThatDisagreesWithItsWeightsIsOneLine()
    {
        var vision = SiglipVisionConfig.Load(ReferenceFixtures.File("siglip")) with { ImageSize = 224 };
        using var ck = SafetensorsCheckpoint.Open(ReferenceFixtures.File("siglip"));
        OneLine(Assert.Throws<CheckpointMismatchException>(() => ConfigWeightsCheck.VisionBackbone(vision, new SafetensorsCheckpointTensors(ck))),
            "(image_size / patch_size)^2 = (224 / 14)^2 = 256, the weights' vision_model.embeddings.position_embedding.weight has 729 rows");
    }

    [Fact]
    public void AModelLargerThanTheAvailableMemoryIsRefused()
    {
        // Within every per-field bound, but ~1,600B parameters.
        var huge = new Qwen2Config
        {
            VocabSize = Qwen2Config.MaxVocabSize, HiddenSize = Qwen2Config.MaxHiddenSize, IntermediateSize = Qwen2Config.MaxIntermediateSize,
            NumHiddenLayers = 64, NumAttentionHeads = 512, NumKeyValueHeads = 512,
        };
        long n = ParameterMemory.Count(huge);
        Assert.True(n > 1_000_000_000_000L, n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var e = Assert.Throws<OpenQwen2VL.Data.Manifests.StageContractException>(() => ParameterMemory.Require(n, TorchSharp.torch.ScalarType.BFloat16, "crafted"));
        OneLine(e, "of memory available");
        // A real small model passes.
        ParameterMemory.Require(ParameterMemory.Count(Qwen2Config.Load(ReferenceFixtures.File("qwen2"))), TorchSharp.torch.ScalarType.Float32, "fixture");
    }

    [Fact]
    public void TheParameterCountMatchesTheFixtureCheckpoint()
    {
        var config = Qwen2Config.Load(ReferenceFixtures.File("qwen2"));
        using var ck = SafetensorsCheckpoint.Open(ReferenceFixtures.File("qwen2"));
        long stored = ck.Names.Sum(n => ck[n].Entry.ElementCount);
        Assert.Equal(stored, ParameterMemory.Count(config));
    }
}
