using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Training.Config;

/// <summary>The three stages of the recipe.</summary>
public enum Stage { Pretrain, Sft, Align }

/// <summary>
/// Everything a training stage needs, serialised as the run folder's config.json. Defaults come from
/// <see cref="ForStage"/> (the paper's recipe); a config file and `--set key=value` override them.
/// </summary>
public sealed record StageConfig
{
    public Stage Stage { get; init; } = Stage.Pretrain;
    public long Seed { get; init; } = 7;

    // Schedule and batch.
    /// <summary>Optimiser steps; fixes the LR schedule. Required (no epoch counting without a dataset size).</summary>
    public int MaxSteps { get; init; } = 1000;
    /// <summary>Sequences per optimiser step over all ranks.</summary>
    public int GlobalBatchSequences { get; init; } = 256;
    /// <summary>Sequences per forward/backward on one rank; global = micro x accumulation x world.</summary>
    public int MicroBatchSequences { get; init; } = 4;
    public int SequenceLength { get; init; } = 4096;
    /// <summary>SFT data: batch examples with the same image count, sorting runs of this many batches (0 = off; see LoaderOptions.GroupByImageCount).</summary>
    public int GroupByImageCount { get; init; }
    /// <summary>
    /// SFT data: pack conversations into sequences of up to <see cref="SequenceLength"/> positions (First-Fit-Decreasing
    /// in windows of 2048); each keeps its own positions from 0 and attends only to itself, so the loss is the unpacked
    /// one, with less padding. <see cref="MicroBatchSequences"/> and <see cref="GlobalBatchSequences"/> then count packs.
    /// </summary>
    public bool SftPacking { get; init; }

    // AdamW.
    public double LearningRate { get; init; } = 5e-5;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    public double WarmupRatio { get; init; } = 0.03;
    public double GradClipNorm { get; init; } = 1.0;

    // What is trained.
    public bool TrainVision { get; init; }
    public bool TrainLlm { get; init; } = true;
    public bool TrainProjector { get; init; } = true;
    /// <summary>
    /// Visual tokens per image, a square: the projector average-pools the patch grid to its side (144 = 12x12 in
    /// pre-training). Null: the vision tower's full patch grid (729 = 27x27 for SO400M), SFT's default: the
    /// "low-to-high" switch keeps the projector and stops pooling.
    /// </summary>
    public int? VisualTokens { get; init; } = 144;

    // Numerics and memory.
    /// <summary>"auto" (bf16 on CUDA, fp32 on CPU), "bf16" or "fp32".</summary>
    public string Precision { get; init; } = "auto";
    public bool ActivationCheckpointing { get; init; } = true;

    // Runs that survive.
    public int CheckpointEvery { get; init; } = 1000;
    public int KeepLastCheckpoints { get; init; } = 3;
    public int LogEvery { get; init; } = 10;
    /// <summary>Abort after this many optimiser steps in a row with a NaN/Inf loss or gradient.</summary>
    public int MaxNonFiniteInRow { get; init; } = 5;
    /// <summary>Peak matmul rate for the MFU estimate, FLOP/s; 0 = not reported.</summary>
    public double PeakFlops { get; init; }
    /// <summary>Multi-process runs: 1 shards the AdamW state over the ranks (ZeRO stage 1), 0 keeps a full copy on every rank.</summary>
    public int ZeroStage { get; init; } = 1;
    /// <summary>Multi-process runs: size of the flat fp32 buckets gradients are all-reduced in, MB.</summary>
    public int BucketMb { get; init; } = 25;
    /// <summary>Multi-process runs: the longest a collective waits for the other ranks before the job stops, seconds.</summary>
    public int CollectiveTimeoutS { get; init; } = 300;

    public int AccumulationSteps(int worldSize)
    {
        int per = MicroBatchSequences * worldSize;
        if (MicroBatchSequences <= 0 || GlobalBatchSequences % per != 0)
            throw new ArgumentException($"global_batch_sequences {GlobalBatchSequences} is not a multiple of micro_batch_sequences {MicroBatchSequences} x world size {worldSize}");
        return GlobalBatchSequences / per;
    }

    /// <summary>
    /// The paper's recipe per stage (docs/notes/open-qwen2vl.md). Pre-training's global batch is a launch-script
    /// argument in the reference; 256 is prismatic's default for its first stage. Align follows prismatic's
    /// projector-only stage (lr 1e-3, no weight decay, batch 256).
    /// </summary>
    public static StageConfig ForStage(Stage stage) => stage switch
    {
        Stage.Pretrain => new StageConfig { Stage = stage },
        Stage.Sft => new StageConfig
        {
            Stage = stage, LearningRate = 2e-5, WeightDecay = 0.1, GlobalBatchSequences = 128,
            MicroBatchSequences = 2, VisualTokens = null, SequenceLength = 4096,
        },
        Stage.Align => new StageConfig
        {
            Stage = stage, LearningRate = 1e-3, WeightDecay = 0.0, GlobalBatchSequences = 256,
            TrainLlm = false, ActivationCheckpointing = false,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(stage)),
    };

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>
    /// Defaults of <paramref name="stage"/>, then <paramref name="presetOverrides"/> (a model preset's own
    /// defaults), then the keys of <paramref name="configFile"/> (if any), then the `key=value` overrides
    /// (value parsed as JSON when it parses, else taken as a string). Unknown keys fail.
    /// </summary>
    public static StageConfig Resolve(Stage stage, string? configFile, IEnumerable<string> overrides, IEnumerable<string>? presetOverrides = null)
    {
        var node = JsonNode.Parse(ForStage(stage).ToJson())!.AsObject();
        foreach (var kv in presetOverrides ?? []) ApplyPair(node, kv);
        if (configFile is not null)
        {
            var file = JsonNode.Parse(BoundedFile.ReadAllText(configFile, BoundedFile.SmallJsonMaxBytes, "a stage config")) as JsonObject
                ?? throw new ArgumentException($"{configFile}: not a JSON object");
            foreach (var (k, v) in file) Apply(node, k, v?.DeepClone());
        }
        foreach (var kv in overrides) ApplyPair(node, kv);
        node["stage"] = JsonSerializer.SerializeToNode(stage, Json);
        StageConfig config;
        try
        {
            config = node.Deserialize<StageConfig>(Json)!;
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"invalid config: {e.Message}");
        }
        config.Validate();
        return config;
    }

    /// <summary>The precisions <see cref="Precision"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Precisions = ["auto", "bf16", "fp32"];

    /// <summary>
    /// Checks every key's range before anything is built or computed; the first bad key is an
    /// <see cref="ArgumentException"/> naming the key, its value and the allowed range (one line).
    /// </summary>
    public void Validate()
    {
        AtLeast("max_steps", MaxSteps, 1);
        AtLeast("global_batch_sequences", GlobalBatchSequences, 1);
        AtLeast("micro_batch_sequences", MicroBatchSequences, 1);
        if (GlobalBatchSequences % MicroBatchSequences != 0)
            throw new ArgumentException($"global_batch_sequences {GlobalBatchSequences} is not a multiple of micro_batch_sequences {MicroBatchSequences}");
        AtLeast("sequence_length", SequenceLength, 1);
        AtLeast("group_by_image_count", GroupByImageCount, 0);
        if (SftPacking && Stage != Stage.Sft)
            throw new ArgumentException($"sft_packing true: packs SFT conversations, only in --stage sft (this is {Stage.ToString().ToLowerInvariant()})");
        Real("learning_rate", LearningRate, LearningRate > 0, "> 0");
        Real("weight_decay", WeightDecay, WeightDecay >= 0, ">= 0");
        Real("beta1", Beta1, Beta1 is >= 0 and < 1, "in [0, 1)");
        Real("beta2", Beta2, Beta2 is >= 0 and < 1, "in [0, 1)");
        Real("epsilon", Epsilon, Epsilon > 0, "> 0");
        Real("warmup_ratio", WarmupRatio, WarmupRatio is >= 0 and <= 1, "in [0, 1]");
        Real("grad_clip_norm", GradClipNorm, GradClipNorm > 0, "> 0");
        if (VisualTokens is int n && (n < 1 || (int)Math.Round(Math.Sqrt(n)) is var side && side * side != n))
            throw new ArgumentException($"visual_tokens {n}: must be a positive square (16 = 4x4, 144 = 12x12, 729 = 27x27) or null (the full grid)");
        if (!Precisions.Contains(Precision))
            throw new ArgumentException($"precision '{Precision}': must be one of {string.Join(", ", Precisions)}");
        AtLeast("checkpoint_every", CheckpointEvery, 1);
        AtLeast("keep_last_checkpoints", KeepLastCheckpoints, 1);
        AtLeast("log_every", LogEvery, 1);
        AtLeast("max_non_finite_in_row", MaxNonFiniteInRow, 1);
        Real("peak_flops", PeakFlops, PeakFlops >= 0, ">= 0 (0 = no MFU)");
        if (ZeroStage is not (0 or 1)) throw new ArgumentException($"zero_stage {ZeroStage}: must be 0 (no sharding) or 1 (optimizer state sharded)");
        AtLeast("bucket_mb", BucketMb, 1);
        AtLeast("collective_timeout_s", CollectiveTimeoutS, 1);

        static void AtLeast(string key, int value, int min)
        {
            if (value < min) throw new ArgumentException($"{key} {value}: must be >= {min}");
        }

        // NaN and infinities fail every range (a comparison with NaN is false).
        static void Real(string key, double value, bool inRange, string range)
        {
            if (!inRange || !double.IsFinite(value))
                throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{key} {value}: must be {range}"));
        }
    }

    static void ApplyPair(JsonObject node, string kv)
    {
        int eq = kv.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"--set expects key=value, got '{kv}'");
        Apply(node, kv[..eq].Trim(), ParseValue(kv[(eq + 1)..]));
    }

    static void Apply(JsonObject node, string key, JsonNode? value)
    {
        if (!node.ContainsKey(key))
            throw new ArgumentException($"unknown config key '{key}' (known: {string.Join(", ", node.Select(p => p.Key))})");
        node[key] = value;
    }

    static JsonNode? ParseValue(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (JsonException) { return JsonValue.Create(text); }
    }
}
