using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Curation.Scoring;

public sealed record ScoreProgress(int ShardsDone, int ShardsTotal, long Pairs, string Shard);

/// <summary>What one process did, and the whole job's totals once every shard of every rank is scored.</summary>
public sealed record ScoreJobResult(
    int ShardsOfRank, int ShardsScored, int ShardsAlreadyComplete, long PairsScored, double Seconds,
    SkipStats RankStats, JsonObject? Summary, IReadOnlyList<string> Histograms);

/// <summary>
/// <c>oqvl score</c>: streams WebDataset shards (one batch of preprocessed images in memory at a time), scores every
/// pair with one scorer, and writes per input shard <c>NAME.parquet</c> (<see cref="ScoreFile"/>) and
/// <c>NAME.stats.json</c> (input = scored + skipped by reason). Ranks take every W-th shard. The stats are written
/// first and the parquet last, each atomically, so a parquet that exists is complete: a rerun skips those shards and
/// scores the rest, and a killed job's rerun writes the same bytes an uninterrupted run would. Whichever rank finds
/// every shard complete writes the job's stats.json, manifest.json and one histogram PNG per score column.
/// </summary>
public static class ScoreJob
{
    public const string StatsFile = "stats.json";

    public static ScoreJobResult Run(IPairScorer scorer, ScoreJobOptions o, IReadOnlyList<ManifestInput> lineage, IProgress<ScoreProgress>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(o.BatchSize, 1);
        var names = OutputNames(o.Shards);
        Directory.CreateDirectory(o.OutputDir);
        RefuseOtherScorer(o.OutputDir, scorer);
        var mine = Enumerable.Range(0, o.Shards.Count).Where(i => i % o.Rank.World == o.Rank.Rank).ToList();
        var clock = Stopwatch.StartNew();
        var rankStats = new SkipStats();
        int scored = 0, reused = 0;
        float[]? buffer = null;   // one batch of pixels for the whole job: memory does not grow with the shards
        long pairs = 0;
        for (int k = 0; k < mine.Count; k++)
        {
            int i = mine[k];
            string parquet = Path.Combine(o.OutputDir, names[i] + ".parquet"), stats = Path.Combine(o.OutputDir, names[i] + ".stats.json");
            if (IsComplete(parquet, stats, scorer, out var previous))
            {
                rankStats.Add(previous!);
                reused++;
            }
            else
            {
                var shardStats = ScoreShard(scorer, o, buffer ??= new float[o.BatchSize * scorer.Preprocessor.OutputLength], o.Shards[i], parquet, stats,
                    n => progress?.Report(new ScoreProgress(k, mine.Count, pairs + n, names[i])));
                pairs += shardStats.Kept;
                rankStats.Add(shardStats);
                scored++;
            }
            progress?.Report(new ScoreProgress(k + 1, mine.Count, pairs, names[i]));
        }
        var (summary, histograms) = AllComplete(o, names) ? WriteSummary(scorer, o, names, lineage) : (null, []);
        return new ScoreJobResult(mine.Count, scored, reused, pairs, clock.Elapsed.TotalSeconds, rankStats, summary, histograms);
    }

    private static SkipStats ScoreShard(IPairScorer scorer, ScoreJobOptions o, float[] buffer, string shard, string parquetPath, string statsPath, Action<long> onBatch)
    {
        var stats = new SkipStats();
        var file = new ScoreFile(scorer.Columns);
        int pixelsPerImage = scorer.Preprocessor.OutputLength;
        var batch = new List<ScoringPair>(o.BatchSize);
        void Flush()
        {
            if (batch.Count == 0) return;
            file.Add(batch, scorer.Score(batch, buffer));
            stats.Keep(batch.Count);
            batch.Clear();
            onBatch(stats.Kept);
        }
        foreach (var sample in WebDatasetReader.Read(shard, stats, o.MaxMemberBytes))
        {
            if (!Img2DatasetParser.TryParse(sample, out var parsed, out var reason)) { stats.Skip(reason!); continue; }
            var slot = buffer.AsSpan(batch.Count * pixelsPerImage, pixelsPerImage);
            if (!scorer.Preprocessor.TryPreprocess(parsed!.Image, o.ImageLimits, slot, out reason)) { stats.Skip(reason!); continue; }
            batch.Add(new ScoringPair(parsed.Key, parsed.Uid, parsed.Caption));
            if (batch.Count == o.BatchSize) Flush();
        }
        Flush();
        var json = stats.ToJson();
        json.Remove("kept");
        json["scored"] = stats.Kept;
        json["scorer"] = scorer.Name;
        json["columns"] = new JsonArray(scorer.Columns.Select(c => (JsonNode)c.Name).ToArray());
        json["missing"] = MissingCounts(scorer, file);
        AtomicFile.WriteAllText(statsPath, json.ToJsonString(Indented));
        file.Write(parquetPath);
        return stats;
    }

    private static JsonObject MissingCounts(IPairScorer scorer, ScoreFile file)
    {
        var missing = new JsonObject();
        for (int c = 0; c < scorer.Columns.Count; c++) missing[scorer.Columns[c].Name] = file.Values(c).Count(v => v is null);
        return missing;
    }

    private static bool IsComplete(string parquet, string statsPath, IPairScorer scorer, out SkipStats? stats)
    {
        stats = null;
        if (!File.Exists(parquet) || !File.Exists(statsPath)) return false;
        JsonObject json;
        try { json = JsonNode.Parse(File.ReadAllText(statsPath))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return false; }
        if ((string?)json["scorer"] != scorer.Name)
            throw new InvalidDataException($"{parquet} holds {json["scorer"]} scores, not {scorer.Name}: write to another --out");
        stats = new SkipStats();
        long scored = (long?)json["scored"] ?? 0;
        stats.CountInput((long?)json["input_samples"] ?? 0);
        stats.Keep(scored);
        foreach (var (reason, n) in json["skipped"]?.AsObject() ?? []) stats.Skip(reason, (long?)n ?? 0);
        return true;
    }

    private static void RefuseOtherScorer(string dir, IPairScorer scorer)
    {
        if (!StageManifest.Exists(dir)) return;
        var m = StageManifest.Read(dir).RequireKind("oqvl score --out", StageKinds.Scores);
        if ((string?)m.Details?["scorer"] is { } other && other != scorer.Name)
            throw new StageContractException($"{dir} holds {other} scores, not {scorer.Name}: write to another --out");
    }

    /// <summary>Output name per shard: its file name without .tar; two shards with one name are refused.</summary>
    private static string[] OutputNames(IReadOnlyList<string> shards)
    {
        var names = shards.Select(s => Path.GetFileName(s) is var f && f.EndsWith(".tar", StringComparison.OrdinalIgnoreCase) ? f[..^4] : Path.GetFileName(s)).ToArray();
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new StageContractException($"two input shards are named {duplicate.Key}.tar; their score files would collide: score the folders separately");
        return names;
    }

    private static bool AllComplete(ScoreJobOptions o, string[] names) =>
        names.All(n => File.Exists(Path.Combine(o.OutputDir, n + ".parquet")) && File.Exists(Path.Combine(o.OutputDir, n + ".stats.json")));

    private static (JsonObject, IReadOnlyList<string>) WriteSummary(IPairScorer scorer, ScoreJobOptions o, string[] names, IReadOnlyList<ManifestInput> lineage)
    {
        var total = new SkipStats();
        var values = scorer.Columns.ToDictionary(c => c.Name, _ => new List<double?>(), StringComparer.Ordinal);
        foreach (var n in names)
        {
            IsComplete(Path.Combine(o.OutputDir, n + ".parquet"), Path.Combine(o.OutputDir, n + ".stats.json"), scorer, out var s);
            total.Add(s!);
            foreach (var (column, v) in ScoreFile.ReadScoresAsync(Path.Combine(o.OutputDir, n + ".parquet"), values.Keys).GetAwaiter().GetResult())
                values[column].AddRange(v);
        }
        var histograms = new List<string>();
        var columns = new JsonObject();
        foreach (var c in scorer.Columns)
        {
            var present = values[c.Name].Where(v => v is not null).Select(v => v!.Value).ToList();
            var column = new JsonObject { ["scored"] = present.Count, ["missing"] = values[c.Name].Count - present.Count };
            if (present.Count > 0)
            {
                var sorted = present.Order().ToArray();
                column["min"] = sorted[0];
                column["median"] = sorted[sorted.Length / 2];
                column["max"] = sorted[^1];
                string png = Path.Combine(o.OutputDir, $"histogram_{c.Name}.png");
                ScoreHistogramPlot.Save(png, present.Select(v => (float)v).ToList(), null, sorted[sorted.Length / 2], $"{c.Name} of {present.Count:N0} pairs (line: median)");
                histograms.Add(png);
            }
            columns[c.Name] = column;
        }
        var json = total.ToJson();
        json.Remove("kept");
        json["scored"] = total.Kept;
        json["scorer"] = scorer.Name;
        json["shards"] = names.Length;
        json["columns"] = columns;
        AtomicFile.WriteAllText(Path.Combine(o.OutputDir, StatsFile), json.ToJsonString(Indented));
        new StageManifest
        {
            Kind = StageKinds.Scores, Inputs = [.. lineage],
            Files = new Dictionary<string, string> { ["stats"] = StatsFile }
                .Concat(histograms.Select(h => KeyValuePair.Create(Path.GetFileNameWithoutExtension(h), Path.GetFileName(h))))
                .ToDictionary(),
            Details = new JsonObject
            {
                ["scorer"] = scorer.Name,
                ["columns"] = new JsonArray(scorer.Columns.Select(c => (JsonNode)c.Name).ToArray()),
                ["score_files"] = new JsonArray(names.Select(n => (JsonNode)(n + ".parquet")).ToArray()),
                ["input_samples"] = total.Input, ["scored"] = total.Kept,
            },
        }.Write(o.OutputDir);
        return (json, histograms);
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
