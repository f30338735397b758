using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OpenQwen2VL.Curation.Expressions;
using OpenQwen2VL.Curation.ScoreTables;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Curation.Resharding;

/// <summary>
/// <c>oqvl filter</c>: joins score files and uid lists by uid, keeps the samples a keep expression accepts, and writes
/// them into new shards of a chosen size (resharding: every member's original bytes, nothing re-encoded) with
/// <c>stats.json</c> and a manifest. Everything that can be refused (expression, unknown columns or lists, unreadable
/// score files) is refused before a shard is read. One pass over the shards; only the current sample is in memory,
/// beside the joined scores (<see cref="ScoreTable"/>) and uid sets.
/// </summary>
public static class ScoreFilterPipeline
{
    public const string FilteredOut = "filtered_out";
    public const string ShardsFolder = "shards";
    public const string StatsFile = "stats.json";

    public static ScoreFilterReport Run(ScoreFilterOptions o, IProgress<ScoreFilterProgress>? progress = null)
    {
        o.Validate();
        var clock = Stopwatch.StartNew();

        // Everything checkable before the long part.
        var expression = KeepExpression.Parse(o.Keep);
        var input = ShardInputs.Resolve(o.InputSpec, "filter --input");
        var scoreFiles = ScoreFiles.Expand(o.ScorePaths);
        var known = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var file in scoreFiles) known.UnionWith(ScoreFiles.Columns(file));
        expression.RequireKnown(known, [.. o.UidLists.Keys]);
        foreach (var list in expression.UidLists)
            if (!File.Exists(o.UidLists[list])) throw new FileNotFoundException($"--uids {list}: file not found: {o.UidLists[list]}");
        string shardsDir = Path.GetFullPath(Path.Combine(o.OutputDir, ShardsFolder));
        if (input.Paths.Any(p => string.Equals(Path.GetDirectoryName(Path.GetFullPath(p)), shardsDir, StringComparison.Ordinal)))
            throw new ArgumentException($"--out {o.OutputDir} would write its shards over the input shards in {shardsDir}: choose another folder");

        // A run that fails from here leaves no manifest that could vouch for a mix of old and new shards.
        Directory.CreateDirectory(o.OutputDir);
        File.Delete(Path.Combine(o.OutputDir, StageManifest.FileName));

        int steps = expression.UidLists.Count + scoreFiles.Count;
        var sets = new HashSet<UInt128>[expression.UidLists.Count];
        for (int i = 0; i < sets.Length; i++)
        {
            sets[i] = UidListFile.Load(o.UidLists[expression.UidLists[i]]);
            progress?.Report(new ScoreFilterProgress("scores", i + 1, steps, 0, 0));
        }
        var table = new ScoreTable(expression.Columns);
        var load = new ScoreLoadStats();
        if (expression.Columns.Count > 0)
            for (int f = 0; f < scoreFiles.Count; f++)
            {
                ScoreFiles.Load(scoreFiles[f], table, load);
                progress?.Report(new ScoreFilterProgress("scores", sets.Length + f + 1, steps, 0, 0));
            }

        // The pass over the shards.
        var stats = new SkipStats();
        var droppedByClause = new long[expression.Clauses.Count];
        var droppedFirst = new long[expression.Clauses.Count];
        var missing = new long[expression.Columns.Count];
        long unscored = 0;
        var scores = new float[expression.Columns.Count];
        var inLists = new bool[sets.Length];
        var failed = new bool[expression.Clauses.Count];
        using var writer = new ShardedWebDatasetWriter(shardsDir, "{0:D5}.tar", o.ShardSize);
        for (int s = 0; s < input.Paths.Count; s++)
        {
            foreach (var sample in WebDatasetReader.Read(input.Paths[s], stats, o.MaxMemberBytes))
            {
                if (stats.Input % 4096 == 0) progress?.Report(new ScoreFilterProgress("shards", s, input.Paths.Count, stats.Input, stats.Kept));
                if (!SampleUidReader.TryRead(sample, out var uid, out var reason))
                {
                    stats.Skip(reason!);
                    continue;
                }
                var key = SampleUid.Key(uid);
                int row = table.RowOf(key);
                if (row < 0 && scores.Length > 0) unscored++;
                for (int c = 0; c < scores.Length; c++)
                    if (float.IsNaN(scores[c] = table.Get(row, c))) missing[c]++;
                for (int l = 0; l < sets.Length; l++) inLists[l] = sets[l].Contains(key);
                if (expression.FailedClauses(new KeepRow(scores, inLists), failed))
                {
                    writer.Write(sample.Key, sample.Members.ToDictionary(m => m.Key, m => (ReadOnlyMemory<byte>)m.Value));
                    stats.Keep();
                    continue;
                }
                stats.Skip(FilteredOut);
                droppedFirst[Array.IndexOf(failed, true)]++;
                for (int i = 0; i < failed.Length; i++)
                    if (failed[i]) droppedByClause[i]++;
            }
            progress?.Report(new ScoreFilterProgress("shards", s + 1, input.Paths.Count, stats.Input, stats.Kept));
        }
        writer.Complete();
        RemoveStaleShards(shardsDir, writer.CompletedShards);

        var report = new ScoreFilterReport
        {
            Expression = expression, Stats = stats,
            DroppedByClause = ByName(expression.ClauseTexts, droppedByClause),
            DroppedByFirstClause = ByName(expression.ClauseTexts, droppedFirst),
            MissingScores = ByName(expression.Columns, missing),
            UnscoredSamples = unscored, ScoreLoad = load, ScoredUids = table.Count,
            UidListSizes = expression.UidLists.Select((name, i) => (name, sets[i].Count)).ToDictionary(p => p.name, p => p.Count),
            OutputShards = [.. writer.CompletedShards], SamplesPerShard = [.. writer.SamplesPerShard],
            StatsJson = Path.Combine(o.OutputDir, StatsFile), Seconds = clock.Elapsed.TotalSeconds,
        };
        WriteStats(report, o, input);
        new StageManifest
        {
            Kind = StageKinds.Curated, Inputs = [.. input.Lineage],
            Shards = [.. report.OutputShards.Select(f => Path.GetRelativePath(o.OutputDir, f))],
            Files = new() { ["stats"] = StatsFile },
            Details = new JsonObject
            {
                ["filter"] = expression.Text, ["shard_size"] = o.ShardSize,
                ["input_samples"] = stats.Input, ["kept"] = stats.Kept, ["dropped"] = stats.SkippedTotal,
            },
        }.Write(o.OutputDir);
        return report;
    }

    private static Dictionary<string, long> ByName(IReadOnlyList<string> names, long[] counts)
    {
        var byName = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++) byName[names[i]] = byName.GetValueOrDefault(names[i]) + counts[i];
        return byName;
    }

    /// <summary>Shards a previous run left in the output folder beyond this run's (only names this pipeline writes).</summary>
    private static void RemoveStaleShards(string dir, IReadOnlyList<string> written)
    {
        var keep = new HashSet<string>(written.Select(Path.GetFullPath), StringComparer.Ordinal);
        foreach (var file in Directory.GetFiles(dir, "*.tar"))
            if (Regex.IsMatch(Path.GetFileName(file), @"^\d{5}\.tar$") && !keep.Contains(Path.GetFullPath(file))) File.Delete(file);
    }

    private static void WriteStats(ScoreFilterReport r, ScoreFilterOptions o, ResolvedShards input)
    {
        var json = r.Stats.ToJson();
        json["dropped"] = r.Stats.SkippedTotal;
        json["keep"] = r.Expression.Text;
        json["clauses"] = new JsonArray([.. r.Expression.ClauseTexts.Select(c => (JsonNode)c)]);
        json["dropped_by_clause"] = ToJson(r.DroppedByClause);
        json["dropped_by_first_clause"] = ToJson(r.DroppedByFirstClause);
        json["missing_scores"] = ToJson(r.MissingScores);
        json["unscored_samples"] = r.UnscoredSamples;
        json["scored_uids"] = r.ScoredUids;
        json["scores"] = r.ScoreLoad.ToJson();
        json["uid_lists"] = new JsonObject(r.UidListSizes.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        json["input_shards"] = input.Paths.Count;
        json["shard_size"] = o.ShardSize;
        json["output_shards"] = r.OutputShards.Count;
        json["samples_per_shard"] = new JsonArray([.. r.SamplesPerShard.Select(n => (JsonNode)n)]);
        json["seconds"] = r.Seconds;
        AtomicFile.WriteAllText(r.StatsJson, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static JsonObject ToJson(IReadOnlyDictionary<string, long> counts) =>
        new(counts.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
}
