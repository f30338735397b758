using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Data;

namespace OpenQwen2VL.Tests.Training;

/// <summary>`--data NAME=SOURCE:WEIGHT,...` resolved against packed caption and interleaved folders (no libtorch: resolution only).</summary>
public class TrainingDataMixtureTests
{
    private static readonly Lazy<ITextTokenizer> Tokenizer = new(() => OpenQwen2VL.Data.Prompts.MultimodalTokens.LoadTokenizer(ReferenceFixtures.File("tokenizer.json")));

    private static string Pack(TempDir tmp, string name, PackFormat format, int visualTokens, int capacity)
    {
        string input;
        if (format == PackFormat.Interleaved)
        {
            input = tmp.File($"{name}.jsonl");
            SyntheticInterleavedDocuments.WriteJsonl(input, 6, new(ImageSide: 24));
        }
        else
        {
            string dir = Directory.CreateDirectory(tmp.File(name + "-in")).FullName;
            input = SyntheticCaptionShards.Write(dir, 1, 6, imageSide: 24)[0];
        }
        var options = new PackOptions
        {
            Format = format, Capacity = capacity, VisualTokens = visualTokens, Threads = 1, ImageLimits = new ImageLimits(MaxPixels: 1_000_000),
            TokenizerPath = ReferenceFixtures.File("tokenizer.json"),
        };
        new PackPipeline(Tokenizer.Value, options).Run([input], tmp.File(name));
        return tmp.File(name);
    }

    [Fact]
    public void AMixtureOfPackedFoldersKeepsItsPartsWeightsAndSharedFacts()
    {
        using var tmp = new TempDir();
        string cc = Pack(tmp, "cc", PackFormat.Caption, 16, 256), ob = Pack(tmp, "ob", PackFormat.Interleaved, 16, 512);
        var data = TrainingData.Resolve($"caption={cc}:0.8,interleaved={ob}:0.2", Stage.Pretrain);
        Assert.Equal(TrainingDataKind.Mixture, data.Kind);
        Assert.Equal(["caption", "interleaved"], data.Parts.Select(p => p.Name));
        Assert.Equal(0.8, data.Parts[0].Weight, 12);
        Assert.All(data.Parts, p => Assert.Equal(TrainingDataKind.Packed, p.Data.Kind));
        Assert.Equal(16, data.VisualTokens);
        Assert.Equal(512, data.ContextLength); // the longest part's: the stage must fit every part
        Assert.Equal(Tokenizer.Value.Fingerprint, data.Tokenizer!.Fingerprint);
        Assert.NotNull(data.TokenizerPath);
    }

    [Fact]
    public void PartsPackedForDifferentVisualTokensAreRefusedNamingBoth()
    {
        using var tmp = new TempDir();
        string cc = Pack(tmp, "cc", PackFormat.Caption, 16, 256), ob = Pack(tmp, "ob", PackFormat.Interleaved, 9, 256);
        var e = Assert.Throws<StageContractException>(() => TrainingData.Resolve($"caption={cc}:1,interleaved={ob}:1", Stage.Pretrain));
        Assert.Contains("'caption'", e.Message);
        Assert.Contains("'interleaved'", e.Message);
        Assert.Contains("visual tokens", e.Message);
    }
}
