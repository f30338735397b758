using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>The fixture's prismatic-checkpoint.pt holds exactly the tensors of projector.safetensors and qwen2/model.safetensors.</summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class PrismaticImportParityTests
{
    private static byte[] Bytes(Tensor t) => t.bytes.ToArray();

    private static void AssertSameTensors(ICheckpointTensors expected, ICheckpointTensors actual, IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            using var e = expected.Read(name);
            using var a = actual.Read(name);
            Assert.Equal(e.dtype, a.dtype);
            Assert.Equal(e.shape, a.shape);
            Assert.True(Bytes(e).AsSpan().SequenceEqual(Bytes(a)), $"{name} differs");
        }
    }

    [Fact]
    public void ImportGivesExactlyTheReferenceTensors()
    {
        using var ck = PrismaticCheckpoint.Open(ReferenceFixtures.File(PrismaticCheckpoint.FileName));
        using var projector = SafetensorsCheckpoint.Open(ReferenceFixtures.File("projector.safetensors"));
        using var qwen2 = SafetensorsCheckpoint.Open(ReferenceFixtures.File("qwen2"));
        var proj = new SafetensorsCheckpointTensors(projector);
        var llm = new SafetensorsCheckpointTensors(qwen2);

        Assert.Equal(proj.Names.Order(), ck.Projector.Names.Order());
        AssertSameTensors(proj, ck.Projector, proj.Names);

        // HF stores tied embeddings once; the prismatic state dict also has lm_head.weight, equal to them.
        bool tied = HfCheckpointConfig.ReadTieWordEmbeddings(ReferenceFixtures.File("qwen2")) ?? true;
        var extra = ck.Llm.Names.Except(llm.Names).Order().ToList();
        Assert.Empty(llm.Names.Except(ck.Llm.Names));
        Assert.Equal(tied ? [HfCheckpointConfig.LmHeadKey] : new List<string>(), extra);
        AssertSameTensors(llm, ck.Llm, llm.Names);
        if (tied)
        {
            using var head = ck.Llm.Read(HfCheckpointConfig.LmHeadKey);
            using var embed = llm.Read(HfCheckpointConfig.EmbedTokensKey);
            Assert.Equal(Bytes(embed), Bytes(head));
        }
    }

    [Fact]
    public void ImportLoadsIntoAModuleShapedLikeTheHfCheckpoint()
    {
        using var ck = PrismaticCheckpoint.Open(ReferenceFixtures.File(PrismaticCheckpoint.FileName));
        using var qwen2 = SafetensorsCheckpoint.Open(ReferenceFixtures.File("qwen2"));
        var llm = new SafetensorsCheckpointTensors(qwen2);
        bool tied = HfCheckpointConfig.ReadTieWordEmbeddings(ReferenceFixtures.File("qwen2")) ?? true;

        using var module = CheckpointModule.ShapedLike(llm);
        var report = CheckpointLoader.LoadInto(module, ck.Llm, ScalarType.Float32, CPU, tieWordEmbeddings: tied);
        Assert.True(report.IsComplete, report.ToString());
        Assert.Equal(tied ? [HfCheckpointConfig.LmHeadKey] : new List<string>(), report.TiedDuplicatesSkipped);
        foreach (var (name, p) in module.named_parameters())
        {
            using var expected = llm.Read(name);
            Assert.Equal(Bytes(expected), Bytes(p));
        }
    }
}
