using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Globalization;
using OpenQwen2VL.Curation.Resharding;
using OpenQwen2VL.Curation.Scoring;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using TorchSharp;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// The CLIP-score curation of Open-Qwen2VL's data recipe at toy scale: read img2dataset shards, train a
/// SigLIP-style dual encoder on the pairs, score every pair by cosine similarity, cut at a threshold, and
/// write one score parquet per input shard, the kept pairs as new shards, a score histogram and stats.
/// Two passes over the shards (decode + score, then copy the kept samples), so raw bytes are not held. The second pass
/// is <c>oqvl filter</c>'s (<see cref="ScoreFilterPipeline"/>) on the score parquets just written, with the keep
/// expression <c>{metric}_score &gt;= threshold</c>: curate is score + filter, and its files are what filter reads.
/// </summary>
public static class CurationPipeline
{
    public const string FilteredOutReason = "filtered_low_score";

    private sealed record ScoredPair(int Shard, string Key, string Uid, string Caption, bool? IsNoise);

    public static CurationResult Run(CurationOptions o, Action<string>? log = null)
    {
        o.Validate();
        var total = Stopwatch.StartNew();
        var input = ShardInputs.Resolve(o.InputSpec, "curate --input");
        var shards = input.Paths;
        Directory.CreateDirectory(o.OutputDir);

        // Pass 1: parse and decode; bad samples are counted by reason.
        var stats = new SkipStats();
        var pairs = new List<ScoredPair>();
        var images = new List<RgbImage>();
        for (int s = 0; s < shards.Count; s++)
            foreach (var sample in WebDatasetReader.Read(shards[s], stats, o.MaxMemberBytes))
            {
                if (!Img2DatasetParser.TryParse(sample, out var parsed, out var reason)) { stats.Skip(reason!); continue; }
                if (!ImageDecoder.TryDecodeRgbx(parsed!.Image, o.ImageLimits, out DecodedImage? image, out reason)) { stats.Skip(reason!); continue; }
                using (image) images.Add(BicubicResampler.Resize(image, o.Encoder.ImageSize, o.Encoder.ImageSize));
                pairs.Add(new ScoredPair(s, parsed.Key, parsed.Uid, parsed.Caption, NoiseFlag(sample)));
            }
        if (pairs.Count < 2) throw new InvalidDataException($"need at least 2 usable pairs, found {pairs.Count} in {shards.Count} shard(s)");
        log?.Invoke($"read {pairs.Count} pairs from {shards.Count} shard(s), skipped {stats.SkippedTotal}");

        // Train and score.
        var tokenizer = o.TokenizerPath is null ? null : BpeTokenizer.Load(o.TokenizerPath);
        var featurizer = new CaptionFeaturizer(o.Encoder.TextBuckets, tokenizer);
        var data = FilterPairs.Build(images, pairs.Select(p => p.Caption).ToArray(), o.Encoder.ImageSize, featurizer);
        images.Clear();
        var device = torch.device(o.Device);
        torch.manual_seed(o.Seed);
        using var model = new TinyDualEncoder(o.Encoder);
        model.to(device);
        var trainClock = Stopwatch.StartNew();
        var losses = DualEncoderTrainer.Train(model, data, o.Training with { Seed = o.Seed }, device,
            new Progress<(int Epoch, double Loss)>(e => log?.Invoke($"filter epoch {e.Epoch}/{o.Training.Epochs}: sigmoid loss {e.Loss:F4}")));
        double trainSeconds = trainClock.Elapsed.TotalSeconds;
        var scores = DualEncoderTrainer.Score(model, data, device);
        var threshold = o.Threshold is { } t ? ScoreThreshold.Fixed(t)
            : o.KeepFraction is { } f ? ScoreThreshold.KeepFraction(scores, f)
            : ScoreThreshold.Otsu(scores);
        var keep = scores.Select(x => x >= threshold.Value).ToArray();

        // Outputs: scores per shard, kept shards, histogram, model, stats.
        string scoresDir = Path.Combine(o.OutputDir, "scores");
        var scoreFiles = new List<string>();
        for (int s = 0; s < shards.Count; s++)
        {
            var idx = Enumerable.Range(0, pairs.Count).Where(i => pairs[i].Shard == s).ToArray();
            string scoreFile = Path.Combine(scoresDir, Path.GetFileNameWithoutExtension(shards[s]) + ".parquet");
            var file = new ScoreFile([new ScoreColumn(ScoreColumnName(o.Metric))]);
            file.Add(idx.Select(i => new ScoringPair(pairs[i].Key, pairs[i].Uid, pairs[i].Caption)).ToArray(),
                new ScoredBatch([idx.Select(i => (double?)scores[i]).ToArray()], [null]));
            file.Write(scoreFile);
            scoreFiles.Add(scoreFile);
        }
        var filter = ScoreFilterPipeline.Run(new ScoreFilterOptions
        {
            InputSpec = o.InputSpec, ScorePaths = scoreFiles, Keep = KeepExpressionFor(o.Metric, threshold.Value),
            OutputDir = o.OutputDir, ShardSize = o.SamplesPerOutputShard, MaxMemberBytes = o.MaxMemberBytes,
        });
        int kept = (int)filter.Stats.Kept;
        string keptDir = Path.Combine(o.OutputDir, ScoreFilterPipeline.ShardsFolder);
        var keptShardFiles = filter.OutputShards;
        int keptShards = keptShardFiles.Count;
        stats.Keep(kept);
        stats.Skip(FilteredOutReason, pairs.Count - kept);

        bool haveTruth = pairs.All(p => p.IsNoise is not null);
        var truth = haveTruth ? pairs.Select(p => p.IsNoise!.Value).ToArray() : null;
        var metrics = truth is null ? null : NoiseRemovalMetrics.Compute(keep.Select(k => !k).ToArray(), truth);
        string histogram = Path.Combine(o.OutputDir, "score_histogram.png");
        ScoreHistogramPlot.Save(histogram, scores, truth, threshold.Value, $"{o.Metric} scores of {pairs.Count} pairs ({threshold.Method} cut)");
        string modelPath = Path.Combine(o.OutputDir, "filter_model.dat");
        model.Save(modelPath);
        string statsPath = Path.Combine(o.OutputDir, "curate_stats.json");
        var result = new CurationResult
        {
            Input = stats.Input, Kept = kept, FilteredOut = pairs.Count - kept,
            Skipped = stats.Skipped.Where(kv => kv.Key != FilteredOutReason).ToDictionary(kv => kv.Key, kv => kv.Value),
            Threshold = threshold, NoiseRemoval = metrics, EpochLosses = losses, Scores = scores,
            KeptShardSpec = Path.Combine(keptDir, keptShards == 1 ? "00000.tar" : $"{{00000..{keptShards - 1:D5}}}.tar"),
            KeptShardCount = keptShards, ScoresDir = scoresDir, HistogramPng = histogram, StatsJson = statsPath, ModelPath = modelPath,
            TrainSeconds = trainSeconds, TotalSeconds = total.Elapsed.TotalSeconds,
        };
        WriteStats(statsPath, stats, result, o);
        new StageManifest
        {
            Kind = StageKinds.Curated, Inputs = [.. input.Lineage],
            Shards = [.. keptShardFiles.Select(f => Path.GetRelativePath(o.OutputDir, f))],
            Files = new()
            {
                ["stats"] = Path.GetFileName(statsPath), ["scores"] = Path.GetRelativePath(o.OutputDir, scoresDir),
                ["histogram"] = Path.GetFileName(histogram), ["filter_model"] = Path.GetFileName(modelPath),
                ["filter_stats"] = Path.GetFileName(filter.StatsJson),
            },
            Details = new JsonObject
            {
                ["metric"] = ScoreColumnName(o.Metric), ["threshold"] = threshold.Value, ["threshold_method"] = threshold.Method,
                ["input_samples"] = result.Input, ["kept"] = result.Kept, ["filtered_out"] = result.FilteredOut,
                ["filter"] = filter.Expression.Text,
            },
        }.Write(o.OutputDir);
        return result;
    }

    /// <summary>The score column of curate's metric, <c>{metric}_score</c> (DataComp's naming; the keep expression names it).</summary>
    public static string ScoreColumnName(string metric) => metric + "_score";

    private static bool? NoiseFlag(WebDatasetSample sample)
    {
        if (sample.Get("json") is not { } json) return null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.TryGetProperty("synthetic_noise", out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
        }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// <c>{metric}_score &gt;= T</c> with T the smallest float at or above the threshold: the scores are floats, and for a
    /// float x, x &gt;= T as floats exactly when x &gt;= threshold as doubles (the cut the pairs were judged by).
    /// </summary>
    public static string KeepExpressionFor(string metric, double threshold)
    {
        float t = (float)threshold;
        if (t < threshold) t = MathF.BitIncrement(t);
        return $"{ScoreColumnName(metric)} >= {t.ToString("R", CultureInfo.InvariantCulture)}";
    }

    private static void WriteStats(string path, SkipStats stats, CurationResult r, CurationOptions o)
    {
        var json = stats.ToJson();
        json["threshold"] = new JsonObject { ["method"] = r.Threshold.Method, ["value"] = r.Threshold.Value };
        json["metric"] = ScoreColumnName(o.Metric);
        json["filtered_out"] = r.FilteredOut;
        json["epoch_losses"] = new JsonArray(r.EpochLosses.Select(l => (JsonNode)JsonValue.Create(l)!).ToArray());
        json["train_seconds"] = r.TrainSeconds;
        json["total_seconds"] = r.TotalSeconds;
        if (r.NoiseRemoval is { } m)
            json["noise_removal"] = new JsonObject
            {
                ["pairs"] = m.Pairs, ["noisy"] = m.Noisy, ["removed"] = m.Removed, ["removed_noisy"] = m.RemovedNoisy,
                ["precision"] = m.Precision, ["recall"] = m.Recall,
            };
        AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
