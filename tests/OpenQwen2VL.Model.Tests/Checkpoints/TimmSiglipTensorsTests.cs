using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Model;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>
/// A released checkpoint whose <c>vision_backbone</c> entry holds the tower in timm naming (prismatic's
/// <c>featurizer.*</c>: fused q|k|v, a [1, N, D] position table) loads into the same backbone as the HF SigLIP it came from.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class TimmSiglipTensorsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The fixture SigLIP's vision tower rewritten in timm's names and layout (the inverse of the mapping under test).</summary>
    private static List<(string, TorchSaveTestArchive.View)> TimmTower(SafetensorsFile hf)
    {
        const string p = "vision_model.";
        var views = new List<(string, TorchSaveTestArchive.View)>();
        int key = 100;
        void Add(string name, float[] values, long[] shape) => views.Add(("featurizer." + name, TorchSaveTestArchive.Float32((key++).ToString(), values, shape)));
        foreach (var e in hf.Entries.Where(e => e.Name.StartsWith(p, StringComparison.Ordinal)))
        {
            string n = e.Name[p.Length..];
            if (n == "embeddings.position_embedding.weight") Add("pos_embed", hf.ReadFloat32(e.Name), [1, .. e.Shape]);
            else if (n.StartsWith("embeddings.patch_embedding.", StringComparison.Ordinal)) Add("patch_embed.proj." + n[27..], hf.ReadFloat32(e.Name), e.Shape);
            else if (n.StartsWith("post_layernorm.", StringComparison.Ordinal)) Add("norm." + n[15..], hf.ReadFloat32(e.Name), e.Shape);
            else if (n.StartsWith("encoder.layers.", StringComparison.Ordinal))
            {
                var parts = n["encoder.layers.".Length..].Split('.', 2);
                string block = $"blocks.{parts[0]}.", rest = parts[1];
                if (rest.StartsWith("self_attn.q_proj.", StringComparison.Ordinal))
                {
                    string suffix = rest["self_attn.q_proj.".Length..];
                    var fused = new[] { "q", "k", "v" }.SelectMany(x => hf.ReadFloat32($"{p}encoder.layers.{parts[0]}.self_attn.{x}_proj.{suffix}")).ToArray();
                    Add(block + "attn.qkv." + suffix, fused, [3 * e.Shape[0], .. e.Shape[1..]]);
                }
                else if (rest.StartsWith("self_attn.k_proj.", StringComparison.Ordinal) || rest.StartsWith("self_attn.v_proj.", StringComparison.Ordinal)) continue;
                else if (rest.StartsWith("self_attn.out_proj.", StringComparison.Ordinal)) Add(block + "attn.proj." + rest[19..], hf.ReadFloat32(e.Name), e.Shape);
                else if (rest.StartsWith("layer_norm1.", StringComparison.Ordinal)) Add(block + "norm1." + rest[12..], hf.ReadFloat32(e.Name), e.Shape);
                else if (rest.StartsWith("layer_norm2.", StringComparison.Ordinal)) Add(block + "norm2." + rest[12..], hf.ReadFloat32(e.Name), e.Shape);
                else Add(block + rest, hf.ReadFloat32(e.Name), e.Shape);   // mlp.fc1 / mlp.fc2
            }
            else if (n.StartsWith("head.", StringComparison.Ordinal)) Add("attn_pool." + n[5..], hf.ReadFloat32(e.Name), e.Shape);
        }
        return views;
    }

    private static List<(string, TorchSaveTestArchive.View)> Views(string file, Func<string, string> name)
    {
        using var f = SafetensorsFile.Open(file);
        int key = 0;
        return f.Entries.Select(e => (name(e.Name), TorchSaveTestArchive.Float32($"{e.Name}-{key++}", f.ReadFloat32(e.Name), e.Shape))).ToList();
    }

    [Fact]
    public void TimmTowerInAReleasedCheckpointLoadsAsTheHfTowerItCameFrom()
    {
        var archive = new TorchSaveTestArchive();
        using (var hf = SafetensorsFile.Open(Path.Combine(ReferenceFixtures.File("siglip"), "model.safetensors")))
            archive.PrismaticRoot(
                Views(ReferenceFixtures.File("projector.safetensors"), n => n),
                Views(Path.Combine(ReferenceFixtures.File("qwen2"), "model.safetensors"), n => "llm." + n),
                TimmTower(hf));
        string pt = Path.Combine(_dir.Path, "latest-checkpoint.pt");
        archive.Save(pt, "latest-checkpoint");

        using (var ck = PrismaticCheckpoint.Open(pt))
            Assert.IsType<TimmSiglipTensors>(ck.Vision);
        // --vision still names the tower's config; the weights come from the checkpoint's vision_backbone entry.
        var source = ModelSourceResolver.Resolve(new ModelRequest
        {
            Model = pt, Llm = ReferenceFixtures.File("qwen2"), Vision = ReferenceFixtures.File("siglip"), Tokenizer = ReferenceFixtures.File("tokenizer.json"),
        });
        Assert.Equal(WeightsFormat.Prismatic, source.VisionWeights!.Format);
        using var fromTimm = VlmLoader.Load(source);
        Assert.All(fromTimm.Reports, r => Assert.True(r.IsComplete, r.ToString()));
        using var fromHf = ModelFixtures.LoadVlm(fromTimm.Model.Config.PoolSide);
        var expected = fromHf.VisionBackbone.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in fromTimm.Model.VisionBackbone.named_parameters())
            Assert.True(p.shape.SequenceEqual(expected[name].shape) && p.contiguous().bytes.SequenceEqual(expected[name].contiguous().bytes), name);
    }

    [Fact]
    public void NamesOutsideTheMappingAreOfferedAsUnexpected()
    {
        var archive = new TorchSaveTestArchive();
        archive.PrismaticRoot([], [], [("featurizer.pos_embed", TorchSaveTestArchive.Float32("a", new float[6], [1, 3, 2])),
            ("featurizer.cls_token", TorchSaveTestArchive.Float32("b", new float[2], [1, 1, 2]))]);
        string pt = Path.Combine(_dir.Path, "odd.pt");
        archive.Save(pt);
        using var ck = PrismaticCheckpoint.Open(pt);
        Assert.Equal(["vision_model.embeddings.position_embedding.weight", "vision_model.unmapped.cls_token"], ck.Vision!.Names.Order());
        Assert.Equal([3L, 2L], ck.Vision.Shape("vision_model.embeddings.position_embedding.weight"));
    }
}
