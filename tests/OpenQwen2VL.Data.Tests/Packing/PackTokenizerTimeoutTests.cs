using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Packing;

/// <summary>
/// A tokenizer.json whose pre-tokenizer regex backtracks catastrophically (<c>(a+)+$</c>) must not hang pack: a caption
/// it times out on is a counted skip; when many do, the job stops with one line naming the pattern.
/// </summary>
public class PackTokenizerTimeoutTests
{
    /// <summary>The fixture tokenizer with its split regex replaced by <c>(a+)+$</c>, loaded with a short regex timeout.</summary>
    static BpeTokenizer CatastrophicTokenizer(TempDir tmp)
    {
        var json = JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("tokenizer.json")))!;
        json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"] = new JsonObject { ["Regex"] = "(a+)+$" };
        var path = tmp.File("tokenizer.json");
        File.WriteAllText(path, json.ToJsonString());
        // Short enough for a quick test, long enough that a normal caption never times out on a loaded machine.
        var tokenizer = BpeTokenizer.Load(path, 0, TimeSpan.FromMilliseconds(500));
        tokenizer.AddSpecialTokens([.. MultimodalTokens.AddedSpecialTokens.Where(t => tokenizer.TokenToId(t) is null)]);
        tokenizer.Encode("a red circle");   // the compiled regex's first run (JIT) is not a caption's
        return tokenizer;
    }

    static string Shard(TempDir tmp, int good, int hostile)
    {
        var path = tmp.File("in-00000.tar");
        using var w = new WebDatasetWriter(path);
        for (int i = 0; i < good + hostile; i++)
        {
            var sample = SyntheticCaptionShards.Sample(i, 40);
            // A caption ending in a long run of 'a' then '!' makes (a+)+$ try 2^n ways.
            if (i >= good) sample["txt"] = Encoding.UTF8.GetBytes("a caption " + new string('a', 48) + "!");
            w.Write($"s{i:D4}", sample);
        }
        return path;
    }

    static PackOptions Options => new()
    {
        Capacity = 256, VisualTokens = 16, ImageSize = 48, PacksPerShard = 4, Threads = 2, ImageLimits = new ImageLimits(MaxPixels: 1_000_000),
    };

    [Fact]
    public void ACaptionTheRegexTimesOutOnIsACountedSkip()
    {
        using var tmp = new TempDir();
        var tokenizer = CatastrophicTokenizer(tmp);
        var report = new PackPipeline(tokenizer, Options).Run([Shard(tmp, good: 6, hostile: 2)], tmp.File("out"));
        Assert.Equal(8, report.Stats.Input);
        Assert.True(report.Stats.Kept == 6, string.Join(", ", report.Stats.Skipped.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(2, report.Stats.Skipped[PackPipeline.TokenizerTimeout]);
        Assert.True(report.Stats.IsBalanced);
    }

    [Fact]
    public void ManyTimeoutsStopTheJobWithOneLineNamingThePattern()
    {
        using var tmp = new TempDir();
        var tokenizer = CatastrophicTokenizer(tmp);
        var shard = Shard(tmp, good: 2, hostile: PackPipeline.MaxTokenizerTimeouts + 4);
        var e = Assert.Throws<InvalidDataException>(() => new PackPipeline(tokenizer, Options).Run([shard], tmp.File("out")));
        Assert.Contains("(a+)+$", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
