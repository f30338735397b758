using System.Text.Json;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Tests.Shards;
using SkiaSharp;

namespace OpenQwen2VL.Tests.Synth;

public class SyntheticDatasetTests
{
    private static readonly SyntheticDatasetOptions Small = new()
    {
        Seed = 3, PretrainPairs = 60, SftRecords = 8, EvalImages = 10, QuestionsPerEvalImage = 4,
        NoiseFraction = 0.3, ImageSize = 32, SamplesPerShard = 25,
    };

    [Fact]
    public void SameSeedWritesByteIdenticalFiles_OtherSeedDiffers()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        using var c = new TempDir();
        SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(Small), a.Path);
        SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(Small), b.Path);
        SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(Small with { Seed = 4 }), c.Path);
        var filesA = RelativeFiles(a.Path);
        Assert.Equal(filesA, RelativeFiles(b.Path));
        Assert.Contains(Path.Combine("pretrain", "00002.tar"), filesA);
        foreach (var f in filesA)
            Assert.True(File.ReadAllBytes(Path.Combine(a.Path, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b.Path, f))), f);
        Assert.False(File.ReadAllBytes(Path.Combine(a.Path, "pretrain", "00000.tar"))
            .AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(c.Path, "pretrain", "00000.tar"))));
    }

    [Fact]
    public void ShardsHoldEveryPairOnce_WithNoiseFlagMatchingTheCaption()
    {
        using var dir = new TempDir();
        var data = SyntheticDatasetGenerator.Generate(Small);
        var layout = SyntheticDatasetWriter.Write(data, dir.Path);
        var byUid = data.Pretrain.ToDictionary(p => p.Uid);
        var seen = new HashSet<string>();
        var stats = new SkipStats();
        foreach (var shard in ShardSpec.Expand(layout.PretrainShardSpec(3)))
            foreach (var s in WebDatasetReader.Read(shard, stats))
            {
                using var meta = JsonDocument.Parse(s.Get("json")!);
                string uid = meta.RootElement.GetProperty("uid").GetString()!;
                Assert.True(seen.Add(uid));
                var pair = byUid[uid];
                Assert.Equal(pair.Caption, System.Text.Encoding.UTF8.GetString(s.Get("txt")!));
                Assert.Equal(pair.IsNoise, meta.RootElement.GetProperty("synthetic_noise").GetBoolean());
                using var bmp = SKBitmap.Decode(s.Get("jpg")!);
                Assert.Equal(Small.ImageSize, bmp.Width);
                stats.Keep();
            }
        Assert.Equal(data.Pretrain.Count, seen.Count);
        Assert.True(stats.IsBalanced);
        // Noise is exact in number, and a noisy caption names a colour or shape the image does not have.
        Assert.Equal((int)Math.Round(Small.PretrainPairs * Small.NoiseFraction), data.Pretrain.Count(p => p.IsNoise));
        foreach (var p in data.Pretrain)
        {
            bool namesTrueColor = p.Caption.Contains(p.Scene.Color.Name, StringComparison.OrdinalIgnoreCase);
            bool namesTrueShape = p.Caption.Contains(SceneVocabulary.Word(p.Scene.Shape), StringComparison.OrdinalIgnoreCase);
            Assert.Equal(!p.IsNoise, namesTrueColor && namesTrueShape);
        }
    }

    [Fact]
    public void EvalQuestionsAreTypeBalanced_WithTenAnswersMostlyTrue()
    {
        var data = SyntheticDatasetGenerator.Generate(Small);
        var counts = data.EvalQuestions.GroupBy(q => q.Question.Type).Select(g => g.Count()).ToArray();
        Assert.Equal(4, counts.Length);
        Assert.True(counts.Max() - counts.Min() <= 1);
        Assert.All(data.EvalQuestions, q => Assert.Equal(AnnotatorSimulator.AnnotatorsPerQuestion, q.AnnotatorAnswers.Count));
        // Simulated annotators disagree sometimes, but the truth is always among the answers.
        Assert.Contains(data.EvalQuestions, q => q.AnnotatorAnswers.Distinct().Count() > 1);
        Assert.All(data.EvalQuestions, q => Assert.Contains(q.Question.Answer, q.AnnotatorAnswers));
        // Answers agree with the drawn scene.
        var scenes = data.EvalImages.ToDictionary(i => i.ImageId, i => i.Scene);
        foreach (var q in data.EvalQuestions)
        {
            var s = scenes[q.ImageId];
            string expected = q.Question.Type switch
            {
                VqaQuestionType.Color => s.Color.Name,
                VqaQuestionType.Shape => SceneVocabulary.Word(s.Shape),
                VqaQuestionType.Count => s.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => SceneVocabulary.Word(s.Position),
            };
            Assert.Equal(expected, q.Question.Answer);
        }
    }

    [Fact]
    public void SftJsonIsLlavaShaped_WithImagesOnDisk()
    {
        using var dir = new TempDir();
        var layout = SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(Small), dir.Path);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(layout.SftJson));
        Assert.Equal(Small.SftRecords, doc.RootElement.GetArrayLength());
        foreach (var rec in doc.RootElement.EnumerateArray())
        {
            var turns = rec.GetProperty("conversations").EnumerateArray().ToArray();
            Assert.True(turns.Length >= 2 && turns.Length % 2 == 0);
            for (int i = 0; i < turns.Length; i++) Assert.Equal(i % 2 == 0 ? "human" : "gpt", turns[i].GetProperty("from").GetString());
            // One image per question, each on disk, listed in placeholder order (a string for one, a list for several).
            var img = rec.GetProperty("image");
            string[] files = img.ValueKind == JsonValueKind.Array ? img.EnumerateArray().Select(e => e.GetString()!).ToArray() : [img.GetString()!];
            Assert.Equal(turns.Length / 2, files.Length);
            Assert.All(files, f => Assert.True(File.Exists(Path.Combine(layout.SftImageRoot, f))));
            for (int i = 0; i < turns.Length; i += 2) Assert.StartsWith("<image>\n", turns[i].GetProperty("value").GetString());
        }
    }

    [Fact]
    public void NoSftAnswerCanBeReadFromItsPrompt_AndQuestionTypesAreBalanced()
    {
        var data = SyntheticDatasetGenerator.Generate(Small with { SftRecords = 40 });
        var answerKinds = new Dictionary<string, int>();
        Assert.Contains(data.Sft, r => r.Images.Count > 1);
        foreach (var rec in data.Sft)
        {
            Assert.Equal(rec.Conversations.Count / 2, rec.Images.Count);
            for (int t = 0; t < rec.Conversations.Count; t += 2)
            {
                string question = rec.Conversations[t].Value, reply = rec.Conversations[t + 1].Value;
                // Every exchange brings its own image: nothing asked earlier in the conversation is about this image.
                Assert.Single(System.Text.RegularExpressions.Regex.Matches(question, "<image>"));
                if (question.Contains("Describe", StringComparison.Ordinal)) continue;
                // Word-bounded: "1" must not match inside another token, "left" not inside a longer word.
                Assert.DoesNotMatch($@"\b{System.Text.RegularExpressions.Regex.Escape(reply)}\b", question);
                string kind = SceneVocabulary.ObjectColors.Any(c => c.Name == reply) ? "color"
                    : SceneVocabulary.Shapes.Any(sh => SceneVocabulary.Word(sh) == reply) ? "shape"
                    : int.TryParse(reply, out _) ? "count" : "position";
                answerKinds[kind] = answerKinds.GetValueOrDefault(kind) + 1;
            }
        }
        Assert.Equal(4, answerKinds.Count);
        Assert.True(answerKinds.Values.Max() - answerKinds.Values.Min() <= 1, string.Join(", ", answerKinds));
    }

    [Fact]
    public void RenderedImageShowsTheSceneColourWhereTheShapesAre()
    {
        var scene = SceneSampler.Sample(new Random(11)) with { Size = SceneSize.Large };
        using var bmp = SceneRenderer.Render(scene, 64);
        var p = scene.Placements[0];
        var px = bmp.GetPixel((int)(p.CenterX * 64), (int)(p.CenterY * 64));
        Assert.True(Math.Abs(px.Red - scene.Color.R) + Math.Abs(px.Green - scene.Color.G) + Math.Abs(px.Blue - scene.Color.B) < 30);
        var corner = bmp.GetPixel(0, 0);
        bool cornerFree = scene.Placements.All(q => Math.Min(q.CenterX, q.CenterY) > q.Radius * 1.5f);
        if (cornerFree) Assert.Equal(scene.Background.R, corner.Red);
    }

    private static List<string> RelativeFiles(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToList();
}
