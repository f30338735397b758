using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Curation.ScoreTables;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Curation;
using OpenQwen2VL.Tests.Shards;
using static OpenQwen2VL.Tests.Integration.CliInvocation;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// <c>oqvl filter</c> the way the paper used DFN and MLM-Filter: DataComp-style shards with 32-hex uids, MLM-Filter
/// scores and a DFN subset .npy, <c>mlm_su &gt;= 85 || in(dfn)</c>; the result packs.
/// </summary>
public sealed class FilterCommandTests
{
    private const int Samples = 24;

    private static UInt128 Uid(int i) => new((ulong)i * 0x9E3779B97F4A7C15UL + 1, (ulong)i << 40);

    private sealed record Data(TempDir Dir, Dictionary<int, int> Su, HashSet<int> Dfn) : IDisposable
    {
        public string P(string name) => Dir.File(name);
        public void Dispose() => Dir.Dispose();
    }

    private static Data Make()
    {
        var dir = new TempDir();
        var rng = new Random(3);
        using (var w = new ShardedWebDatasetWriter(dir.File("in"), "{0:D5}.tar", 10))
            for (int i = 0; i < Samples; i++)
            {
                var sample = SyntheticCaptionShards.Sample(i, 24);
                sample["json"] = Encoding.UTF8.GetBytes($"{{\"uid\": \"{SampleUid.ToHex(Uid(i))}\", \"key\": \"{i:D9}\"}}");
                w.Write($"{i:D9}", sample);
            }
        var su = Enumerable.Range(0, Samples).Where(i => i % 7 != 3).ToDictionary(i => i, _ => rng.Next(60, 101));
        var dfn = Enumerable.Range(0, Samples).Where(_ => rng.Next(3) == 0).ToHashSet();
        File.WriteAllLines(dir.File("mlm.csv"), ["uid,semantic_understanding_score", .. su.Select(kv => $"{SampleUid.ToHex(Uid(kv.Key))},{kv.Value}")]);
        File.WriteAllBytes(dir.File("dfn.npy"), CraftedNpy.Subset([.. dfn.Select(Uid)]));
        return new Data(dir, su, dfn);
    }

    [Fact]
    public void MlmFilterOrDfnKeepsTheUnionAndThePackStageTakesIt()
    {
        using var d = Make();
        Succeeds("filter", "--input", d.P("in"), "--scores", d.P("mlm.csv"), "--uids", $"dfn={d.P("dfn.npy")}",
            "--keep", "mlm_su >= 85 || in(dfn)", "--out", d.P("out"), "--shard-size", "5");
        int expected = Enumerable.Range(0, Samples).Count(i => d.Su.TryGetValue(i, out int s) && s >= 85 || d.Dfn.Contains(i));
        var stats = JsonNode.Parse(File.ReadAllText(d.P("out/stats.json")))!;
        Assert.Equal(Samples, (long)stats["input_samples"]!);
        Assert.Equal(expected, (long)stats["kept"]!);
        Assert.Equal(Samples - expected, (long)stats["dropped"]!);
        Assert.Equal(Samples - d.Su.Count, (long)stats["missing_scores"]!["mlm_su"]!);
        Assert.Equal(d.Dfn.Count, (int)stats["uid_lists"]!["dfn"]!);
        Assert.Equal((expected + 4) / 5, Directory.GetFiles(d.P("out/shards"), "*.tar").Length);

        Succeeds("pack", "--input", d.P("out"), "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", d.P("packed"),
            "--capacity", "512", "--visual-tokens", "16");
        Assert.Equal(expected, (long)JsonNode.Parse(File.ReadAllText(d.P("packed/stats.json")))!["input_samples"]!);
    }

    [Fact]
    public void MistakesAreOneLineBeforeAnyWork()
    {
        using var d = Make();
        string[] Filter(string keep, params string[] more) =>
            ["filter", "--input", d.P("in"), "--scores", d.P("mlm.csv"), "--uids", $"dfn={d.P("dfn.npy")}", "--keep", keep, "--out", d.P("out"), .. more];

        Assert.Contains("at position 16", UserError(Filter("mlm_su >= 85 ||")));
        Assert.Contains("unknown column mlm_itm (the score files have: mlm_su)", UserError(Filter("mlm_itm >= 66")));
        Assert.Contains("unknown uid list in(laion)", UserError(Filter("in(laion)")));
        Assert.Contains("expected NAME=PATH", UserError(Filter("in(dfn)", "--uids", "dfn.npy")));
        Assert.Contains("nowhere.parquet", UserError(Filter("mlm_su > 1", "--scores", d.P("nowhere.parquet"))));
        File.WriteAllBytes(d.P("bad.npy"), CraftedNpy.Uids("'<f8'", "(3,)", []));
        Assert.Contains("is no uid array", UserError(["filter", "--input", d.P("in"), "--uids", $"x={d.P("bad.npy")}", "--keep", "in(x)", "--out", d.P("out")]));
        Assert.Contains("--shard-size", UserError(Filter("mlm_su > 1", "--shard-size", "0")));
        Assert.False(File.Exists(d.P("out/manifest.json")));
    }
}
