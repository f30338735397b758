using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Building networks: a dtype argument reaches every parameter without global state; the default init is kept.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class ModelConstructionTests
{
    private static VlmConfig Tiny => VlmConfig.Tiny(vocabSize: 40);

    [Fact]
    public void PatchConvolutionDrawsTheSameInitAsTorchSharpsConv2d()
    {
        var v = Tiny.Vision;
        manual_seed(7);
        using var embeddings = new SiglipVisionEmbeddings(v);
        manual_seed(7);
        using var reference = nn.Conv2d(v.NumChannels, v.HiddenSize, kernel_size: v.PatchSize, stride: v.PatchSize);
        var ours = embeddings.named_parameters().Where(p => p.name.StartsWith("patch_embedding.")).ToList();
        var theirs = reference.named_parameters().ToList();
        Assert.Equal(theirs.Select(p => "patch_embedding." + p.name), ours.Select(p => p.name));
        using var scope = NewDisposeScope();
        foreach (var ((name, a), (_, b)) in ours.Zip(theirs))
            Assert.True(a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>(), $"{name} differs from nn.Conv2d's init");
    }

    [Fact]
    public void DTypeArgumentBuildsEveryParameterInItAndLeavesTheDefaultAlone()
    {
        using var vlm = new VisionLanguageModel(Tiny with { Llm = Tiny.Llm with { TieWordEmbeddings = false } }, ScalarType.BFloat16);
        using var tower = new SiglipVisionModel(Tiny.Vision with { UseHead = true }, backbone: false, ScalarType.BFloat16);
        var parameters = vlm.named_parameters().Concat(tower.named_parameters()).ToList();
        Assert.Contains(parameters, p => p.name.EndsWith("lm_head.weight"));
        Assert.Contains(parameters, p => p.name.Contains(".head.probe"));
        foreach (var (name, p) in parameters) Assert.True(p.dtype == ScalarType.BFloat16, $"{name} is {p.dtype}");
        Assert.Equal(ScalarType.Float32, get_default_dtype());
    }

    [Fact]
    public async Task BuildingInBf16OnOneThreadLeavesModulesBuiltOnAnotherInFloat32()
    {
        // Under a process-wide default dtype switched for the bf16 build, the float32 builds would pick up bf16.
        var config = Tiny.Llm;
        using var stop = new CancellationTokenSource();
        var bf16 = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested) new Qwen2ForCausalLM(config, ScalarType.BFloat16).Dispose();
        });
        try
        {
            for (int i = 0; i < 60; i++)
            {
                using var lm = new Qwen2ForCausalLM(config);
                foreach (var (name, p) in lm.named_parameters()) Assert.True(p.dtype == ScalarType.Float32, $"build {i}: {name} is {p.dtype}");
            }
        }
        finally
        {
            stop.Cancel();
            await bf16;
        }
    }
}
