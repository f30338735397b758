using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>
/// An HF LLaVA-Qwen folder (MLM-Filter's layout: LLM under Qwen2 names and <c>model.mm_projector.0/2</c> in one
/// checkpoint, the SigLIP named by the config passed as --vision) loads through the one model loader into the model
/// the same weights give as separate parts: equal logits for a prompt with an image.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class LlavaQwenLoadTests
{
    [Fact]
    public void LoadsAsTheSamePartsGiveWithEqualLogits()
    {
        using var dir = new TempDir();
        string llava = WriteLlavaFolder(dir.Path);
        var viaLlava = ModelSourceResolver.Resolve(new ModelRequest { Model = llava, Vision = ReferenceFixtures.File("siglip") });
        var viaParts = ModelSourceResolver.Resolve(new ModelRequest
        {
            Llm = ReferenceFixtures.File("qwen2"), Vision = ReferenceFixtures.File("siglip"), Projector = ReferenceFixtures.File("projector.safetensors"),
            Tokenizer = ReferenceFixtures.File("tokenizer.json"),
        });
        using var a = VlmLoader.Load(viaLlava);
        using var b = VlmLoader.Load(viaParts);
        Assert.Equal(b.VisualTokens, a.VisualTokens);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var pixels = ModelFixtures.PixelValues()[..1];
        long[] ids = [5, 17, OpenQwen2VL.Data.Prompts.MultimodalTokens.ImageMarker, 40, 41, 42];
        var la = a.Model.Generate(ids, pixels, 6);
        var lb = b.Model.Generate(ids, pixels, 6);
        Assert.Equal(lb, la);
        foreach (var (name, p) in b.Model.named_parameters())
            Assert.True(p.allclose(a.Model.named_parameters().First(q => q.name == name).parameter, rtol: 0, atol: 0), name);
    }

    [Fact]
    public void UnsupportedLayoutsAndAMissingTowerAreOneLineErrors()
    {
        using var dir = new TempDir();
        string llava = WriteLlavaFolder(dir.Path);
        var e = Assert.Throws<StageContractException>(() => ModelSourceResolver.Resolve(new ModelRequest { Model = llava }));
        Assert.Contains("--vision", e.Message);
        Assert.Contains("google/siglip-so400m-patch14-384", e.Message);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(llava, "config.json")))!.AsObject();
        config["mm_vision_select_layer"] = -1;
        File.WriteAllText(Path.Combine(llava, "config.json"), config.ToJsonString());
        e = Assert.Throws<StageContractException>(() => ModelSourceResolver.Resolve(new ModelRequest { Model = llava, Vision = ReferenceFixtures.File("siglip") }));
        Assert.Contains("mm_vision_select_layer -1", e.Message);
    }

    /// <summary>The fixture LLM and projector in one checkpoint under LLaVA's names, with a llava_qwen config.</summary>
    private static string WriteLlavaFolder(string root)
    {
        string dir = Path.Combine(root, "llava");
        Directory.CreateDirectory(dir);
        var config = JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("qwen2", "config.json")))!.AsObject();
        config["model_type"] = "llava_qwen";
        config["architectures"] = new JsonArray("LlavaQwenForCausalLM");
        config["mm_vision_tower"] = "google/siglip-so400m-patch14-384";
        config["mm_projector_type"] = "mlp2x_gelu";
        config["mm_vision_select_layer"] = -2;
        config["mm_vision_select_feature"] = "patch";
        config["mm_hidden_size"] = JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("siglip", "config.json")))!["vision_config"]!["hidden_size"]!.GetValue<int>();
        config["mm_use_im_start_end"] = false;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        File.Copy(ReferenceFixtures.File("tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        var tensors = new List<SafetensorsTensorSource>();
        using var llm = SafetensorsFile.Open(ReferenceFixtures.File("qwen2", "model.safetensors"));
        using var projector = SafetensorsFile.Open(ReferenceFixtures.File("projector.safetensors"));
        foreach (var e in llm.Entries) tensors.Add(SafetensorsTensorSource.FromBytes(e.Name, e.DType, e.Shape, llm.Bytes(e).ToArray()));
        foreach (var e in projector.Entries)
            tensors.Add(SafetensorsTensorSource.FromBytes("model.mm_projector." + e.Name["mlp_projector.".Length..], e.DType, e.Shape, projector.Bytes(e).ToArray()));
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, SafetensorsWriter.PtMetadata);
        return dir;
    }
}
