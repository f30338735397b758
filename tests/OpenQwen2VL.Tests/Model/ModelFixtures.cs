using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Loads the reference networks and case tensors from <see cref="ReferenceFixtures.Dir"/>.</summary>
public static class ModelFixtures
{
    public static Qwen2ForCausalLM LoadQwen2()
    {
        var lm = new Qwen2ForCausalLM(Qwen2Config.Load(ReferenceFixtures.File("qwen2", "config.json")));
        using var file = SafetensorsFile.Open(ReferenceFixtures.File("qwen2", "model.safetensors"));
        WeightLoading.CopyInto(lm, file);
        lm.eval();
        return lm;
    }

    public static SiglipModel LoadSiglip()
    {
        var model = SiglipModel.Load(ReferenceFixtures.File("siglip", "config.json"));
        using var file = SafetensorsFile.Open(ReferenceFixtures.File("siglip", "model.safetensors"));
        WeightLoading.CopyInto(model, file);
        model.eval();
        return model;
    }

    /// <summary>The reference VLM: fixture SigLIP (backbone mode), projector.safetensors and the fixture Qwen2, pooling to <paramref name="poolSide"/>.</summary>
    public static VisionLanguageModel LoadVlm(int poolSide)
    {
        var config = new VlmConfig(
            SiglipVisionConfig.Load(ReferenceFixtures.File("siglip", "config.json")),
            Qwen2Config.Load(ReferenceFixtures.File("qwen2", "config.json")),
            poolSide);
        var vlm = new VisionLanguageModel(config);
        using (var f = SafetensorsFile.Open(ReferenceFixtures.File("siglip", "model.safetensors"))) WeightLoading.CopyInto(vlm.VisionBackbone, f);
        using (var f = SafetensorsFile.Open(ReferenceFixtures.File("projector.safetensors"))) WeightLoading.CopyInto(vlm.Projector, f);
        using (var f = SafetensorsFile.Open(ReferenceFixtures.File("qwen2", "model.safetensors"))) WeightLoading.CopyInto(vlm.Llm, f);
        vlm.eval();
        return vlm;
    }

    /// <summary>Pool sizes present in vlm_case.safetensors (metadata <c>pool_sizes</c>).</summary>
    public static int[] PoolSizes() =>
        System.Text.Json.JsonSerializer.Deserialize<int[]>(Metadata("vlm_case.safetensors")["pool_sizes"])!;

    /// <summary>Preprocessed pixels [N, 3, S, S] of the fixture images (preprocess_case.safetensors).</summary>
    public static Tensor PixelValues()
    {
        using var file = SafetensorsFile.Open(ReferenceFixtures.File("preprocess_case.safetensors"));
        return SafetensorsTensors.Read(file, "pixel_values");
    }

    /// <summary>Every tensor of a case file (caller disposes).</summary>
    public static Dictionary<string, Tensor> ReadCase(string fileName)
    {
        using var file = SafetensorsFile.Open(ReferenceFixtures.File(fileName));
        return file.Entries.ToDictionary(e => e.Name, e => SafetensorsTensors.Read(file, e));
    }

    public static IReadOnlyDictionary<string, string> Metadata(string fileName)
    {
        using var file = SafetensorsFile.Open(ReferenceFixtures.File(fileName));
        return new Dictionary<string, string>(file.Metadata);
    }

    public static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.Dispose();
    }
}
