using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Curation.Expressions;
using OpenQwen2VL.Curation.Resharding;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Curation.Resharding;

public sealed class ScoreFilterPipelineTests
{
    private const int Shards = 3, PerShard = 9;

    /// <summary>Synthetic shards (uids uid-0-N) plus a shard with a sample without json and one with broken json.</summary>
    private static Dictionary<string, IReadOnlyDictionary<string, byte[]>> WriteInput(string dir)
    {
        SyntheticCaptionShards.Write(dir, Shards, PerShard, imageSide: 16);
        using (var w = new WebDatasetWriter(Path.Combine(dir, $"{Shards:D5}.tar")))
        {
            var noJson = SyntheticCaptionShards.Sample(900, 16);
            noJson.Remove("json");
            w.Write("nojson", noJson);
            var broken = SyntheticCaptionShards.Sample(901, 16);
            broken["json"] = "{\"uid\": \"uid-0-9"u8.ToArray();
            w.Write("brokenjson", broken);
        }
        var originals = new Dictionary<string, IReadOnlyDictionary<string, byte[]>>();
        foreach (var shard in Directory.GetFiles(dir, "*.tar"))
            foreach (var s in WebDatasetReader.Read(shard)) originals[s.Key] = s.Members;
        return originals;
    }

    [Fact]
    public void KeepsWhatTheExpressionAcceptsWithOriginalBytesInShardsOfTheAskedSize()
    {
        using var tmp = new TempDir();
        var originals = WriteInput(tmp.File("in"));
        var rng = new Random(5);
        int total = Shards * PerShard;
        // siglip in a CSV for all but every 6th sample; MLM-Filter text in a JSONL for all but every 5th; a uid list.
        var siglip = Enumerable.Range(0, total).Where(i => i % 6 != 5).ToDictionary(i => i, _ => MathF.Round(rng.NextSingle(), 3));
        var su = Enumerable.Range(0, total).Where(i => i % 5 != 4).ToDictionary(i => i, _ => rng.Next(0, 101));
        var dfn = Enumerable.Range(0, total).Where(_ => rng.Next(3) == 0).ToHashSet();
        File.WriteAllLines(tmp.File("siglip.csv"), ["uid,siglip", .. siglip.Select(kv => $"uid-0-{kv.Key},{kv.Value.ToString("R", CultureInfo.InvariantCulture)}")]);
        File.WriteAllLines(tmp.File("mlm.jsonl"), su.Select(kv => $"{{\"uid\": \"uid-0-{kv.Key}\", \"semantic_understanding_score\": \"{kv.Value}\\nbecause\"}}"));
        File.WriteAllLines(tmp.File("dfn.txt"), dfn.Select(i => $"uid-0-{i}"));

        const string keep = "(mlm_su >= 50 || in(dfn)) && siglip > 0.3";
        var expected = Enumerable.Range(0, total)
            .Where(i => (su.TryGetValue(i, out int s) && s >= 50 || dfn.Contains(i)) && siglip.TryGetValue(i, out float g) && g > 0.3f)
            .Select(i => $"{i:D9}").ToList();
        Assert.InRange(expected.Count, 5, total - 5); // the test means something

        var report = ScoreFilterPipeline.Run(new ScoreFilterOptions
        {
            InputSpec = tmp.File("in"), ScorePaths = [tmp.File("siglip.csv"), tmp.File("mlm.jsonl")],
            UidLists = new Dictionary<string, string> { ["dfn"] = tmp.File("dfn.txt") }, Keep = keep,
            OutputDir = tmp.File("out"), ShardSize = 4,
        });

        // Conservation, and why samples went.
        Assert.Equal(total + 2, report.Stats.Input);
        Assert.True(report.Stats.IsBalanced);
        Assert.Equal(expected.Count, report.Stats.Kept);
        Assert.Equal(total - expected.Count, report.FilteredOut);
        Assert.Equal(1, report.Stats.Skipped[SampleUidReader.MissingUid]);
        Assert.Equal(1, report.Stats.Skipped[SampleUidReader.UnreadableMetadata]);
        Assert.Equal(Enumerable.Range(0, total).Count(i => !su.ContainsKey(i)), report.MissingScores["mlm_su"]);
        Assert.Equal(Enumerable.Range(0, total).Count(i => !siglip.ContainsKey(i)), report.MissingScores["siglip"]);
        Assert.Equal(Enumerable.Range(0, total).Count(i => !(siglip.TryGetValue(i, out float g) && g > 0.3f)), report.DroppedByClause["siglip > 0.3"]);
        Assert.Equal(report.FilteredOut, report.DroppedByFirstClause.Values.Sum());

        // The kept samples, in order, byte for byte, in shards of 4.
        var outShards = Directory.GetFiles(tmp.File("out/shards"), "*.tar").Order(StringComparer.Ordinal).ToList();
        var kept = outShards.SelectMany(s => WebDatasetReader.Read(s)).ToList();
        Assert.Equal(expected, kept.Select(s => s.Key));
        foreach (var s in kept)
        {
            Assert.Equal(originals[s.Key].Keys, s.Members.Keys);
            foreach (var (ext, bytes) in s.Members) Assert.Equal(originals[s.Key][ext], bytes);
        }
        var sizes = outShards.Select(s => WebDatasetReader.Read(s).Count()).ToList();
        Assert.All(sizes[..^1], n => Assert.Equal(4, n));
        Assert.InRange(sizes[^1], 1, 4);

        // stats.json and the manifest say the same.
        var stats = JsonNode.Parse(File.ReadAllText(tmp.File("out/stats.json")))!;
        Assert.Equal(total + 2, (long)stats["input_samples"]!);
        Assert.Equal((long)stats["input_samples"]!, (long)stats["kept"]! + (long)stats["dropped"]!);
        var manifest = StageManifest.Read(tmp.File("out"));
        Assert.Equal(StageKinds.Curated, manifest.Kind);
        Assert.Equal(outShards, manifest.RequireShards().Select(Path.GetFullPath));
        Assert.Equal(keep, (string)manifest.Details!["filter"]!);

        // Writing over the input is refused before anything is touched.
        Assert.Throws<ArgumentException>(() => ScoreFilterPipeline.Run(new ScoreFilterOptions
        {
            InputSpec = tmp.File("out"), ScorePaths = [tmp.File("siglip.csv")], Keep = "siglip >= 0", OutputDir = tmp.File("out"),
        }));
        Assert.True(File.Exists(tmp.File("out/manifest.json")));

        // A second run into the same folder with bigger shards leaves none of the first run's shards behind.
        var again = ScoreFilterPipeline.Run(new ScoreFilterOptions
        {
            InputSpec = tmp.File("in"), ScorePaths = [tmp.File("siglip.csv")], Keep = "siglip >= 0", OutputDir = tmp.File("out"), ShardSize = 100,
        });
        Assert.Equal(siglip.Count, again.Stats.Kept);
        Assert.Equal([Path.Combine(tmp.File("out/shards"), "00000.tar")], Directory.GetFiles(tmp.File("out/shards")));
    }

    [Fact]
    public void AnUnknownColumnIsRefusedBeforeAnyShardIsWritten()
    {
        using var tmp = new TempDir();
        WriteInput(tmp.File("in"));
        File.WriteAllLines(tmp.File("s.csv"), ["uid,siglip,mlm_itm", "uid-0-1,0.5,70"]);
        var e = Assert.Throws<KeepExpressionException>(() => ScoreFilterPipeline.Run(new ScoreFilterOptions
        {
            InputSpec = tmp.File("in"), ScorePaths = [tmp.File("s.csv")], Keep = "siglip > 0.1 && mlm_su >= 66", OutputDir = tmp.File("out"),
        }));
        Assert.Contains("unknown column mlm_su (the score files have: mlm_itm, siglip)", e.Message);
        Assert.False(Directory.Exists(tmp.File("out")));
    }
}
