using System.Text.Json;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Tests.Images;
using OpenQwen2VL.Tests.Shards;
using SkiaSharp;

namespace OpenQwen2VL.Tests.Loading;

public class SftLoadingTests
{
    private static readonly Lazy<BpeTokenizer> Tokenizer = new(() => BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json")));
    private static readonly ImagePreprocessor Pre = new(16, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);

    private static string WriteSft(TempDir tmp, int n)
    {
        Directory.CreateDirectory(tmp.File("img"));
        var lines = new List<string>();
        for (int i = 0; i < n; i++)
        {
            File.WriteAllBytes(tmp.File($"img/{i}.jpg"), TestImages.Encode(TestImages.Pattern(20 + i, 18, i), SKEncodedImageFormat.Jpeg));
            var reply = string.Join(' ', Enumerable.Repeat("yes", 1 + i * 3 % 17));
            lines.Add(JsonSerializer.Serialize(new
            {
                id = $"s{i}",
                image = i == 3 ? "absent.jpg" : $"{i}.jpg",
                conversations = new[] { new { from = "human", value = "<image>\nWhat is it?" }, new { from = "gpt", value = reply } },
            }));
        }
        var path = tmp.File("sft.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    private static IExampleSource Sft(TempDir tmp) => new SftExampleSource(new LlavaSftReader(new ChatMlPromptBuilder(Tokenizer.Value), tmp.File("img"), 512, 16));

    [Fact]
    public void PackedSftKeepsEveryTrainedTokenAndResumesExactly()
    {
        using var tmp = new TempDir();
        var path = WriteSft(tmp, 12);
        var o = new LoaderOptions { BatchSize = 2, Seed = 4, ShuffleWindow = 3 };
        var plainLoader = new BatchLoader([path], Sft(tmp), Pre, o);
        var plain = plainLoader.Batches().ToList();
        Assert.Equal(11, plain.Sum(b => b.BatchSize)); // record 3's image is missing: skipped, counted
        Assert.True(plainLoader.Stats.IsBalanced);
        Assert.Equal(1, plainLoader.Stats.SkippedTotal);

        var packedLoader = new BatchLoader([path], new PackingExampleSource(Sft(tmp), capacity: 200, visualTokens: 16, window: 5), Pre, o);
        var packed = packedLoader.Batches().ToList();
        Assert.True(packed.Sum(b => b.BatchSize) < 11);
        Assert.Equal(11, packed.Sum(b => b.ImageCount));
        static long Trained(IEnumerable<DataBatch> bs) => bs.Sum(b => b.Labels.Count(l => l != DataBatch.IgnoreIndex));
        static long Sum(IEnumerable<DataBatch> bs) => bs.Sum(b => b.Labels.Where(l => l != DataBatch.IgnoreIndex).Sum());
        Assert.Equal(Trained(plain), Trained(packed));
        Assert.Equal(Sum(plain), Sum(packed));
        Assert.True(packedLoader.Stats.IsBalanced);

        var resumed = new BatchLoader([path], new PackingExampleSource(Sft(tmp), 200, 16, 5), Pre, o).Batches(packed[0].StateAfter!).ToList();
        Assert.Equal(packed.Skip(1).Select(b => string.Join(" ", b.InputIds)), resumed.Select(b => string.Join(" ", b.InputIds)));
    }
}
