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
        CheckpointLoader.LoadInto(lm, ReferenceFixtures.File("qwen2"), ScalarType.Float32, CPU);
        lm.eval();
        return lm;
    }

    public static SiglipModel LoadSiglip()
    {
        var model = SiglipModel.Load(ReferenceFixtures.File("siglip", "config.json"));
        CheckpointLoader.LoadInto(model, ReferenceFixtures.File("siglip"), ScalarType.Float32, CPU);
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
        VlmLoader.LoadVisionBackbone(vlm.VisionBackbone, ReferenceFixtures.File("siglip"), ScalarType.Float32, CPU);
        CheckpointLoader.LoadInto(vlm.Projector, ReferenceFixtures.File("projector.safetensors"), ScalarType.Float32, CPU);
        CheckpointLoader.LoadInto(vlm.Llm, ReferenceFixtures.File("qwen2"), ScalarType.Float32, CPU);
        vlm.eval();
        return vlm;
    }

    /// <summary>Pool sizes present in vlm_case.safetensors (metadata <c>pool_sizes</c>).</summary>
    public static int[] PoolSizes() => ReferenceFixtures.PoolSizes();

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

    public static IReadOnlyDictionary<string, string> Metadata(string fileName) => ReferenceFixtures.Metadata(fileName);

    public static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.Dispose();
    }
}
