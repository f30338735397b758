using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Model;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// The VLM assembled by <see cref="VlmLoader"/> from the fixture checkpoints (SigLIP folder + released-format
/// prismatic-checkpoint.pt, or + projector.safetensors and the HF Qwen2 folder) against vlm_case.safetensors.
/// </summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class VlmLoaderParityTests : IDisposable
{
    private readonly Dictionary<string, Tensor> ref_ = ModelFixtures.ReadCase("vlm_case.safetensors");
    private readonly Tensor pixels = ModelFixtures.PixelValues();

    public void Dispose()
    {
        pixels.Dispose();
        ModelFixtures.DisposeAll(ref_);
    }

    /// <summary>The fixture parts as a user names them: the released .pt with --llm/--vision, or --llm/--vision/--projector.</summary>
    internal static ModelRequest Request(bool prismatic, string? tokenizer = null) => new()
    {
        Model = prismatic ? ReferenceFixtures.File(PrismaticCheckpoint.FileName) : null,
        Llm = ReferenceFixtures.File("qwen2"),
        Vision = ReferenceFixtures.File("siglip"),
        Projector = prismatic ? null : ReferenceFixtures.File("projector.safetensors"),
        Tokenizer = tokenizer ?? ReferenceFixtures.File("tokenizer.json"),
    };

    internal static LoadedVlm Load(bool prismatic, int? pool, string? tokenizer = null) =>
        VlmLoader.Load(ModelSourceResolver.Resolve(Request(prismatic, tokenizer)), new VlmLoadSettings { VisualTokens = pool * pool });

    public static TheoryData<int, bool> PoolsAndSources()
    {
        var data = new TheoryData<int, bool>();
        foreach (var pool in ModelFixtures.PoolSizes())
        {
            data.Add(pool, true);
            data.Add(pool, false);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PoolsAndSources))]
    public void AssembledVlmReproducesReferenceLogitsAndLoss(int pool, bool prismatic)
    {
        using var loaded = Load(prismatic, pool);
        Assert.All(loaded.Reports, r => Assert.True(r.IsComplete, r.ToString()));
        Assert.Equal(3, loaded.Reports.Count);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int images = (int)ref_[$"pool{pool}_projected"].shape[0];
        using var batch = new VlmBatch
        {
            InputIds = ref_["input_ids"].unsqueeze(0).clone(),
            Labels = ref_["labels"].unsqueeze(0).clone(),
            PixelValues = pixels.narrow(0, 0, images).clone(),
        };
        TensorAssert.Close(ref_[$"pool{pool}_projected"], loaded.Model.ProjectImages(batch.PixelValues!), what: $"pool{pool}_projected");
        using var output = loaded.Model.forward(batch);
        TensorAssert.Close(ref_[$"pool{pool}_text_logits"], output.Logits[0][~output.ImageMask[0]], what: $"pool{pool}_text_logits");
        TensorAssert.Close(ref_[$"pool{pool}_loss"].item<float>(), output.Loss.item<float>(), 1e-4, $"pool{pool}_loss");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AssembledVlmGreedyIdsMatchReferenceWithAndWithoutCache(bool useCache)
    {
        using var loaded = Load(prismatic: true, ModelFixtures.PoolSizes()[0]);
        var prompt = ref_["gen_prompt"].data<long>().ToArray();
        var expected = ref_["gen_greedy"].data<long>().ToArray();
        using var imagePixels = pixels.narrow(0, 0, prompt.Count(t => t == VlmBatch.ImageMarker));
        Assert.Equal(expected, loaded.Model.Generate(prompt, imagePixels, expected.Length, useCache: useCache));
    }

    [Fact]
    public void DefaultPoolIsTheFullPatchGrid()
    {
        using var loaded = Load(prismatic: true, pool: null);
        Assert.Equal(loaded.Model.Config.Vision.GridSide, loaded.Model.Projector.PoolSide);
    }

    [Fact]
    public void MissingSpecialTokensAreAddedWithoutResizingWhenTheVocabularyHasRoom()
    {
        using var tmp = new TempDir();
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("tokenizer.json")))!.AsObject();
        var addedTokens = json["added_tokens"]!.AsArray();
        var expectedIds = VlmLoader.RequiredSpecialTokens.ToDictionary(t => t, t => (long)addedTokens.Single(a => (string)a!["content"]! == t)!["id"]!);
        foreach (var node in addedTokens.Where(a => VlmLoader.RequiredSpecialTokens.Contains((string)a!["content"]!)).ToList()) addedTokens.Remove(node);
        // Only meaningful when the removed tokens were the last ids (then re-adding gives them back their ids).
        Assert.Equal(expectedIds.Values.Order(), Enumerable.Range((int)expectedIds.Values.Min(), expectedIds.Count).Select(i => (long)i));
        File.WriteAllText(tmp.File("tokenizer.json"), json.ToJsonString());

        using var loaded = Load(prismatic: true, ModelFixtures.PoolSizes()[0], tmp.File("tokenizer.json"));
        Assert.Equal(VlmLoader.RequiredSpecialTokens.Order(), loaded.AddedTokens.Order());
        foreach (var (token, id) in expectedIds) Assert.Equal((int)id, loaded.Tokenizer.TokenToId(token));
        Assert.False(loaded.EmbeddingsResized);
        Assert.Equal(loaded.CheckpointVocabSize, loaded.Tokenizer.VocabSize);
    }

    [Fact]
    public void ProjectorAndPrismaticAreExclusiveAndBadPoolIsRejected()
    {
        var both = Assert.Throws<StageContractException>(() => ModelSourceResolver.Resolve(Request(prismatic: true) with { Projector = ReferenceFixtures.File("projector.safetensors") }));
        Assert.Contains("--projector", both.Message);
        var grid = Siglip().GridSide;
        var tooMany = Assert.Throws<StageContractException>(() => Load(prismatic: true, grid + 1));
        Assert.Contains($"{grid}x{grid}", tooMany.Message);
        var missing = Assert.Throws<StageContractException>(() => ModelSourceResolver.Resolve(Request(prismatic: true) with { Vision = "/nonexistent/siglip" }));
        Assert.Contains("/nonexistent/siglip", missing.Message);
    }

    private static OpenQwen2VL.Model.Siglip.SiglipVisionConfig Siglip() =>
        OpenQwen2VL.Model.Siglip.SiglipVisionConfig.Load(ReferenceFixtures.File("siglip", "config.json"));
}
