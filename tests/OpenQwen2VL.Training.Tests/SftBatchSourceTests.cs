using System.Text.Json;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Images;
using OpenQwen2VL.Training.Data;
using SkiaSharp;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class SftBatchSourceTests
{
    [Fact]
    public void SftSpecYieldsTheReadersTokensPaddedInsideTheVocabulary()
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        string tokenizerPath = ReferenceFixtures.File("tokenizer.json");
        var tokenizer = BpeTokenizer.Load(tokenizerPath);
        Directory.CreateDirectory(Path.Combine(dir, "img"));
        var records = Enumerable.Range(0, 3).Select(i =>
        {
            File.WriteAllBytes(Path.Combine(dir, "img", $"{i}.jpg"), TestImages.Encode(TestImages.Pattern(20, 18, i), SKEncodedImageFormat.Jpeg));
            // Replies of different lengths, so the batch needs padding.
            return new { id = $"s{i}", image = $"{i}.jpg", conversations = new[] { new { from = "human", value = "<image>\nWhat is it?" }, new { from = "gpt", value = string.Join(' ', Enumerable.Repeat("yes", 1 + 4 * i)) } } };
        }).ToArray();
        string json = Path.Combine(dir, "sft.json");
        File.WriteAllText(json, JsonSerializer.Serialize(records));

        var data = TrainingData.Resolve($"sft:{json},{Path.Combine(dir, "img")}", OpenQwen2VL.Training.Config.Stage.Sft);
        Assert.Equal(TrainingDataKind.Sft, data.Kind);
        int padId = tokenizer.TokenToId("<|endoftext|>")!.Value;
        using var source = data.Open(new TrainingDataOpenOptions
        {
            MicroBatch = 3, Preprocessor = OpenQwen2VL.Data.Images.ImagePreprocessor.ResizeNaive(16), Tokenizer = tokenizer,
            VisualTokensPerImage = 16, SequenceLength = 512, Seed = 1, PadId = padId,
        });
        using var batch = source.Next();
        var ids = batch.InputIds.data<long>().ToArray();
        var labels = batch.Labels.data<long>().ToArray();
        Assert.All(ids, t => Assert.True(t == VlmBatch.ImageMarker || t >= 0 && t < tokenizer.VocabSize, $"id {t}"));
        Assert.Equal(3, ids.Count(t => t == VlmBatch.ImageMarker));
        Assert.Equal(3, batch.PixelValues!.shape[0]);

        // The trained tokens are exactly the reader's, whatever the batch order and padding.
        var reader = new LlavaSftReader(new ChatMlPromptBuilder(tokenizer), Path.Combine(dir, "img"), 512, 16);
        var expected = reader.Read(json, new SampleStats()).SelectMany(s => s.Tokens.Labels).Where(l => l != MultimodalTokens.IgnoreLabel).Select(l => (long)l).Order();
        Assert.Equal(expected, labels.Where(l => l != VlmBatch.IgnoreIndex).Order());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnImageOutsideTheRootIsSkippedUnlessAllowed(bool allow)
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        var tokenizer = BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json"));
        Directory.CreateDirectory(Path.Combine(dir, "img"));
        File.WriteAllBytes(Path.Combine(dir, "img", "in.jpg"), TestImages.Encode(TestImages.Pattern(20, 18, 1), SKEncodedImageFormat.Jpeg));
        // A real image, but beside the root: the annotation names it by "..".
        File.WriteAllBytes(Path.Combine(dir, "outside.jpg"), TestImages.Encode(TestImages.Pattern(20, 18, 2), SKEncodedImageFormat.Jpeg));
        object Record(string id, string image, string reply) =>
            new { id, image, conversations = new[] { new { from = "human", value = "<image>\nWhat is it?" }, new { from = "gpt", value = reply } } };
        string json = Path.Combine(dir, "sft.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new[] { Record("in", "in.jpg", "yes"), Record("out", "../outside.jpg", "no no no no") }));

        var data = TrainingData.Resolve($"sft:{json},{Path.Combine(dir, "img")}", OpenQwen2VL.Training.Config.Stage.Sft);
        using var source = data.Open(new TrainingDataOpenOptions
        {
            MicroBatch = 1, Preprocessor = OpenQwen2VL.Data.Images.ImagePreprocessor.ResizeNaive(16), Tokenizer = tokenizer,
            VisualTokensPerImage = 16, SequenceLength = 512, Seed = 1, PadId = tokenizer.TokenToId("<|endoftext|>")!.Value,
            AllowImagesOutsideRoot = allow,
        });
        // Two epochs' worth: both records when allowed, else only the one inside the root (the other a counted skip).
        var seen = new HashSet<int>();
        for (int i = 0; i < 4; i++)
        {
            using var batch = source.Next();
            seen.Add(batch.Labels.data<long>().Count(l => l != VlmBatch.IgnoreIndex));
        }
        Assert.Equal(allow ? 2 : 1, seen.Count);
    }

    [Theory]
    [InlineData("sft:only-a-json.json")]
    [InlineData("sft:/nonexistent/sft.json,/nonexistent/img")]
    public void BadSftSpecsAreOneLineContractErrors(string spec)
    {
        var e = Assert.Throws<OpenQwen2VL.Data.Manifests.StageContractException>(() => TrainingData.Resolve(spec, OpenQwen2VL.Training.Config.Stage.Sft));
        Assert.DoesNotContain('\n', e.Message);
    }
}
