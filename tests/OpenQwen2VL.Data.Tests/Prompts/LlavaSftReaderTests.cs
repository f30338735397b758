using System.Text.Json;
using OpenQwen2VL.Data.Prompts;

namespace OpenQwen2VL.Tests.Prompts;

public sealed class LlavaSftReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("oqvl-sft-").FullName;

    public LlavaSftReaderTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "images", "coco"));
        foreach (var name in new[] { "coco/a.jpg", "coco/b.jpg", "c.png" })
            File.WriteAllBytes(Path.Combine(_dir, "images", name), [1, 2, 3]);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static object Turn(string from, string value) => new { from, value };

    private static readonly object[] s_records =
    [
        new { id = "one", image = "coco/a.jpg", conversations = new[] { Turn("human", "What is this?\n<image>"), Turn("gpt", "A cat.") } },
        new { id = "two", image = "missing.jpg", conversations = new[] { Turn("human", "<image>\nDescribe."), Turn("gpt", "A dog.") } },
        new { id = "three", image = new[] { "coco/b.jpg", "c.png" }, conversations = new[] { Turn("human", "Compare them."), Turn("gpt", "Both red."), Turn("human", "Sure?"), Turn("gpt", "Yes.") } },
        new { id = "four", conversations = new[] { Turn("human", "Hi"), Turn("gpt", "Hello!") } },
        new { id = "five", conversations = new[] { Turn("human", "Hi"), Turn("robot", "beep") } },
        new { id = "six", image = "c.png", conversations = new[] { Turn("human", "<image> and <image>"), Turn("gpt", "two?") } },
        new { id = "seven", conversations = new[] { Turn("gpt", "I speak first"), Turn("human", "no") } },
    ];

    private string WriteJson()
    {
        string path = Path.Combine(_dir, "data.json");
        File.WriteAllText(path, JsonSerializer.Serialize(s_records));
        return path;
    }

    private string WriteJsonl(params string[] extraLines)
    {
        string path = Path.Combine(_dir, "data.jsonl");
        File.WriteAllLines(path, [.. s_records.Select(r => JsonSerializer.Serialize(r)), .. extraLines]);
        return path;
    }

    private LlavaSftReader Reader(int? context = null, int visual = 729) =>
        new(new ChatMlPromptBuilder(PromptTestTokenizer.Instance), Path.Combine(_dir, "images"), context, visual);

    [Fact]
    public void MissingImagesAndBadRecordsAreSkippedAndCounted()
    {
        var stats = new SampleStats();
        var samples = Reader().Read(WriteJsonl("{not json", "[1,2]"), stats).ToList();
        Assert.Equal(["one", "three", "four"], samples.Select(s => s.Id));
        Assert.Equal(1, stats.Skipped["image_missing"]);
        Assert.Equal(1, stats.Skipped["unknown_role"]);
        Assert.Equal(1, stats.Skipped["image_count_mismatch"]);
        Assert.Equal(1, stats.Skipped["bad_turn_order"]);
        Assert.Equal(2, stats.Skipped["malformed_json"]);
        Assert.Equal(s_records.Length + 2, stats.Input);
        Assert.Equal(stats.Input, stats.Kept + stats.SkippedTotal);
    }

    [Fact]
    public void JsonArrayAndJsonlGiveTheSameSamples()
    {
        var fromJson = Reader().Read(WriteJson(), new SampleStats()).ToList();
        var fromJsonl = Reader().Read(WriteJsonl(), new SampleStats()).ToList();
        Assert.Equal(fromJson.Count, fromJsonl.Count);
        for (int i = 0; i < fromJson.Count; i++)
        {
            Assert.Equal(fromJson[i].Tokens.InputIds, fromJsonl[i].Tokens.InputIds);
            Assert.Equal(fromJson[i].ImagePaths, fromJsonl[i].ImagePaths);
        }
    }

    [Fact]
    public void ImageMarkersGoWhereTheTextPutsThemOrFirst()
    {
        var samples = Reader().Read(WriteJsonl(), new SampleStats()).ToDictionary(s => s.Id);
        string one = PromptTestTokenizer.DecodeWithPlaceholders(samples["one"].Tokens.InputIds);
        Assert.Contains("<|im_start|>user\nWhat is this?\n<image><|im_end|>\n", one);
        string three = PromptTestTokenizer.DecodeWithPlaceholders(samples["three"].Tokens.InputIds);
        Assert.Contains("<|im_start|>user\n<image>\n<image>\nCompare them.<|im_end|>\n", three);
        Assert.Equal([Path.Combine(_dir, "images", "coco/b.jpg"), Path.Combine(_dir, "images", "c.png")], samples["three"].ImagePaths);
        Assert.Equal(2, samples["three"].Tokens.ImageCount);
        Assert.Equal(0, samples["four"].Tokens.ImageCount);
        Assert.Equal(["Both red.<|im_end|>", "Yes.<|im_end|>"], PromptTestTokenizer.TrainedSpans(samples["three"].Tokens));
    }

    [Fact]
    public void TruncationCutsToTheContextDropsCutImagesAndSkipsUntrainableSamples()
    {
        const int visual = 20;
        var full = Reader(visual: visual).Read(WriteJsonl(), new SampleStats()).ToDictionary(s => s.Id);
        var three = full["three"].Tokens;
        int secondMarker = Array.LastIndexOf(three.InputIds, MultimodalTokens.ImageMarker);
        // A context that ends inside the second image: only the first image survives, and no reply: skipped.
        int ctx = secondMarker + (visual - 1) + (visual - 1);
        var stats = new SampleStats();
        var cut = Reader(ctx, visual).Read(WriteJsonl(), stats).ToDictionary(s => s.Id);
        Assert.False(cut.ContainsKey("three"));
        Assert.Equal(1, stats.Skipped["no_trained_tokens_within_context"]);

        // A context that ends inside the second reply keeps both images and the first reply.
        int secondReplyEnd = Array.LastIndexOf(three.Labels, three.Labels.Last(l => l != MultimodalTokens.IgnoreLabel));
        ctx = three.EstimatedLength(visual) - (three.InputIds.Length - secondReplyEnd) - 1;
        stats = new SampleStats();
        cut = Reader(ctx, visual).Read(WriteJsonl(), stats).ToDictionary(s => s.Id);
        var kept = cut["three"];
        Assert.True(kept.Truncated);
        Assert.True(kept.Tokens.EstimatedLength(visual) <= ctx);
        Assert.Equal(three.InputIds[..kept.Tokens.InputIds.Length], kept.Tokens.InputIds);
        Assert.Equal(kept.Tokens.ImageCount, kept.ImagePaths.Count);
        Assert.Equal("Both red.<|im_end|>", PromptTestTokenizer.TrainedSpans(kept.Tokens)[0]);
        Assert.Equal(stats.Input, stats.Kept + stats.SkippedTotal);
        Assert.True(stats.Truncated >= 1);
    }
}
