using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Manifests;

/// <summary>The kinds of stage folder, one per producing command.</summary>
public static class StageKinds
{
    /// <summary><c>oqvl synth</c>: caption shards, LLaVA SFT JSON, a VQAv2-style evaluation split.</summary>
    public const string Synthetic = "synthetic";
    /// <summary><c>oqvl curate</c>: the kept image-caption shards, with scores.</summary>
    public const string Curated = "curated";
    /// <summary><c>oqvl score</c>: one score parquet per input shard, with stats and histograms.</summary>
    public const string Scores = "scores";
    /// <summary><c>oqvl pack</c>: packed multimodal sequences (docs/packed-format.md).</summary>
    public const string Packed = "packed";
    /// <summary><c>oqvl train</c>: a run folder (config, metrics, checkpoints/, final/).</summary>
    public const string Run = "run";
    /// <summary>An exported model (a run's final/): llm/, vision/, projector.safetensors.</summary>
    public const string Model = "model";
}

/// <summary>One input a stage read (its lineage): the input folder's kind and where it was.</summary>
public sealed record ManifestInput(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("path")] string Path);

/// <summary>The command line and program version that wrote a stage folder.</summary>
public sealed record ManifestProducerRecord(
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("version")] string Version);

/// <summary>
/// <c>manifest.json</c>, written by every stage into its output folder: what the folder is (kind, format version), who
/// wrote it (command line, version), what it was made from (the input folders: lineage) and what a consumer must agree
/// with (tokenizer, visual tokens and image transform, prompt format, context length, model configs). Consumers read it
/// before any compute and refuse a mismatch in one line (<see cref="StageContractException"/>).
/// </summary>
public sealed record StageManifest
{
    public const string FileName = "manifest.json";
    public const int CurrentFormatVersion = 1;

    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("format_version")] public int FormatVersion { get; init; } = CurrentFormatVersion;
    [JsonPropertyName("producer")] public ManifestProducerRecord Producer { get; init; } = new(ManifestProducer.Current.Command, ManifestProducer.Current.Version);
    [JsonPropertyName("inputs")] public List<ManifestInput> Inputs { get; init; } = [];
    [JsonPropertyName("tokenizer")] public TokenizerFacts? Tokenizer { get; init; }
    [JsonPropertyName("visual")] public VisualFacts? Visual { get; init; }
    /// <summary>How prompts are written for this data or model: caption (pre-training samples), plain, chatml.</summary>
    [JsonPropertyName("prompt_format")] public string? PromptFormat { get; init; }
    /// <summary>Tokens per sequence: the pack capacity, or the length a model was trained at.</summary>
    [JsonPropertyName("context_length")] public int? ContextLength { get; init; }
    /// <summary>Files of the folder by role (relative paths), e.g. "stats": "stats.json", "tokenizer": "tokenizer.json".</summary>
    [JsonPropertyName("files")] public Dictionary<string, string> Files { get; init; } = [];
    /// <summary>Data shards of the folder (relative paths), in order.</summary>
    [JsonPropertyName("shards")] public List<string> Shards { get; init; } = [];
    /// <summary>Model configs and training facts (runs and models).</summary>
    [JsonPropertyName("model")] public JsonObject? Model { get; init; }
    /// <summary>Numbers a reader may want without opening the stats (counts, settings of the producing command).</summary>
    [JsonPropertyName("details")] public JsonObject? Details { get; init; }

    /// <summary>The folder this manifest was read from (not serialised).</summary>
    [JsonIgnore] public string Directory { get; init; } = "";

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Writes <c>DIR/manifest.json</c> atomically.</summary>
    public void Write(string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(System.IO.Path.Combine(directory, FileName), ToJson());
    }

    public static bool Exists(string directory) => File.Exists(System.IO.Path.Combine(directory, FileName));

    /// <summary>Reads and checks <c>DIR/manifest.json</c>; a missing folder or manifest, bad JSON or a newer format is a one-line <see cref="StageContractException"/>.</summary>
    public static StageManifest Read(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new StageContractException($"folder not found: {directory}");
        string path = System.IO.Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new StageContractException($"{directory} has no {FileName}: it was not written by an oqvl stage (or by an older version); re-run the stage that makes it");
        StageManifest? m;
        try
        {
            m = JsonSerializer.Deserialize<StageManifest>(BoundedFile.ReadAllBytes(path, BoundedFile.SmallJsonMaxBytes, "a stage manifest"), Json);
        }
        catch (JsonException e)
        {
            throw new StageContractException($"{path} is malformed ({FirstLine(e.Message)}): re-run the stage that wrote {directory}");
        }
        if (m is null || string.IsNullOrWhiteSpace(m.Kind)) throw new StageContractException($"{path} is malformed (no \"kind\"): re-run the stage that wrote {directory}");
        if (m.FormatVersion > CurrentFormatVersion || m.FormatVersion < 1)
            throw new StageContractException($"{path} has format version {m.FormatVersion}, this oqvl reads up to {CurrentFormatVersion}: use a newer oqvl or re-run the stage");
        return m with { Directory = directory };
    }

    /// <summary>This manifest, or a one-line error when its kind is not one of <paramref name="kinds"/>.</summary>
    public StageManifest RequireKind(string use, params string[] kinds)
    {
        if (!kinds.Contains(Kind, StringComparer.Ordinal))
            throw new StageContractException($"{Directory} is {Describe(Kind)}, but {use} takes {string.Join(" or ", kinds.Select(Describe))}");
        return this;
    }

    /// <summary>"a packed folder (oqvl pack)".</summary>
    public static string Describe(string kind) => kind switch
    {
        StageKinds.Synthetic => "a synthetic folder (oqvl synth)",
        StageKinds.Curated => "a curated folder (oqvl curate)",
        StageKinds.Packed => "a packed folder (oqvl pack)",
        StageKinds.Scores => "a scores folder (oqvl score)",
        StageKinds.Run => "a run folder (oqvl train)",
        StageKinds.Model => "a model folder (a run's final/)",
        _ => $"a {kind} folder",
    };

    /// <summary>A file of the folder by role, checked to exist.</summary>
    public string RequireFile(string role)
    {
        if (!Files.TryGetValue(role, out var relative))
            throw new StageContractException($"{System.IO.Path.Combine(Directory, FileName)} names no {role} file: re-run the stage that wrote {Directory}");
        string path = System.IO.Path.Combine(Directory, relative);
        if (!File.Exists(path) && !System.IO.Directory.Exists(path))
            throw new StageContractException($"{Directory} is incomplete: its {role} ({relative}) is missing; re-run the stage that wrote it");
        return path;
    }

    /// <summary>A file of the folder by role, or null when the manifest names none.</summary>
    public string? OptionalFile(string role) => Files.ContainsKey(role) ? RequireFile(role) : null;

    /// <summary>The folder's shards as paths, each checked to exist (a missing one is a one-line error).</summary>
    public IReadOnlyList<string> RequireShards()
    {
        if (Shards.Count == 0) throw new StageContractException($"{Directory} holds no shards (see its stats): nothing to read");
        var paths = Shards.Select(s => System.IO.Path.Combine(Directory, s)).ToList();
        var missing = paths.Where(p => !File.Exists(p)).ToList();
        if (missing.Count > 0)
            throw new StageContractException($"{Directory} is incomplete: {missing.Count} of its {paths.Count} shards are missing (first: {missing[0]}); re-run the stage that wrote it");
        return paths;
    }

    /// <summary>The lineage entry that names this folder as an input of a later stage.</summary>
    public ManifestInput AsInput() => new(Kind, System.IO.Path.GetFullPath(Directory));

    static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
