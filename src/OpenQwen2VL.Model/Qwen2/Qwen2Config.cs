using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Model.Checkpoints;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Sizes and constants of a Qwen2 / Qwen2.5 causal LM, read from (and written back to) the HF
/// <c>config.json</c> format. Keys this class does not model are kept and written back unchanged.
/// </summary>
public sealed record Qwen2Config
{
    public int VocabSize { get; init; } = 151936;
    public int HiddenSize { get; init; } = 4096;
    public int IntermediateSize { get; init; } = 22016;
    public int NumHiddenLayers { get; init; } = 32;
    public int NumAttentionHeads { get; init; } = 32;
    public int NumKeyValueHeads { get; init; } = 32;
    /// <summary>Per-head width; HF derives it as hidden_size / num_attention_heads unless <c>head_dim</c> is given.</summary>
    public int? ExplicitHeadDim { get; init; }
    public double RopeTheta { get; init; } = 10000.0;
    public double RmsNormEps { get; init; } = 1e-6;
    public bool TieWordEmbeddings { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 32768;
    public double InitializerRange { get; init; } = 0.02;
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public string TorchDtype { get; init; } = "float32";
    /// <summary>Keys of the source file not modelled above, written back by <see cref="Save"/>.</summary>
    public JsonObject Extra { get; init; } = new();

    public int HeadDim => ExplicitHeadDim ?? HiddenSize / NumAttentionHeads;

    public void Validate() => Validate("qwen2 config");

    private void Validate(string source)
    {
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0)
            throw new InvalidDataException($"{source}: sizes must be positive");
        if (NumAttentionHeads <= 0 || NumKeyValueHeads <= 0 || NumAttentionHeads % NumKeyValueHeads != 0)
            throw new InvalidDataException($"{source}: num_attention_heads {NumAttentionHeads} must be a multiple of num_key_value_heads {NumKeyValueHeads}");
        if (ExplicitHeadDim is null && HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"{source}: hidden_size {HiddenSize} not divisible by num_attention_heads {NumAttentionHeads}");
        if (HeadDim <= 0 || HeadDim % 2 != 0) throw new InvalidDataException($"{source}: head dim {HeadDim} must be positive and even for rotary embeddings");
    }

    /// <summary>
    /// Upper bounds of a config read from a file: generous for every published model (the largest Qwen2.5 has vocab
    /// 152064, hidden 8192, MLP 29568, 80 layers, 64 heads; the largest open models stay far below each bound), so only
    /// a crafted or corrupt config reaches them. Together with the checks of Validate they keep a config from naming
    /// a network that cannot be built.
    /// </summary>
    public const int MaxVocabSize = 1 << 24, MaxHiddenSize = 1 << 16, MaxIntermediateSize = 1 << 18, MaxLayers = 1024, MaxHeads = 1024, MaxHeadDim = 4096;

    /// <summary>Reads <c>config.json</c> (a folder or the file); errors are one line naming the file and the field.</summary>
    public static Qwen2Config Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        return Parse(HfConfigFields.ReadObject(file), file);
    }

    public static Qwen2Config Parse(string json) => Parse(json, "qwen2 config");

    /// <param name="source">the config's name in messages (its file)</param>
    public static Qwen2Config Parse(string json, string source) =>
        Parse(HfConfigFields.ParseObject(System.Text.Encoding.UTF8.GetBytes(json), source), source);

    /// <summary>
    /// The sizes are required (vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads): a
    /// config without them describes no particular model, and HF's defaults (a 7B) would be allocated silently.
    /// </summary>
    private static Qwen2Config Parse(JsonObject o, string source)
    {
        var extra = (JsonObject)o.DeepClone();
        int Size(string key, int max, int? fallback = null) => HfConfigFields.Int(Take(extra, key), key, source, 1, max, fallback);
        double Dbl(string key, double fallback, double min, double max, bool exclusiveMin) =>
            HfConfigFields.Double(Take(extra, key), key, source, min, max, fallback, exclusiveMin);
        int? TokenId(JsonNode? n, string key) => n is null ? null : HfConfigFields.Int(n, key, source, 0, int.MaxValue);

        // Transformers v5 moves rope_theta into rope_parameters; only the default (unscaled) rope is supported.
        double ropeTheta = Dbl("rope_theta", double.NaN, 0, double.MaxValue, exclusiveMin: true);
        foreach (var key in new[] { "rope_parameters", "rope_scaling" })
        {
            if (extra[key] is not JsonObject rp) continue;
            var type = HfConfigFields.String(rp["rope_type"] ?? rp["type"], $"{key}.rope_type", source, "default");
            if (type != "default") throw new NotSupportedException($"{source}: rope type '{type}' is not supported");
            if (double.IsNaN(ropeTheta) && rp["rope_theta"] is JsonNode t)
                ropeTheta = HfConfigFields.Double(t, $"{key}.rope_theta", source, 0, double.MaxValue, double.NaN, exclusiveMin: true);
        }
        if (HfConfigFields.Bool(extra["use_sliding_window"], "use_sliding_window", source, false))
            throw new NotSupportedException($"{source}: sliding-window attention is not supported");

        var eos = Take(extra, "eos_token_id") switch
        {
            null => Array.Empty<int>(),
            JsonArray a => a.Select(x => TokenId(x, "eos_token_id") ?? throw new InvalidDataException($"{source}: eos_token_id holds a null")).ToArray(),
            var v => [TokenId(v, "eos_token_id")!.Value],
        };
        var heads = Size("num_attention_heads", MaxHeads);
        var cfg = new Qwen2Config
        {
            VocabSize = Size("vocab_size", MaxVocabSize),
            HiddenSize = Size("hidden_size", MaxHiddenSize),
            IntermediateSize = Size("intermediate_size", MaxIntermediateSize),
            NumHiddenLayers = Size("num_hidden_layers", MaxLayers),
            NumAttentionHeads = heads,
            NumKeyValueHeads = Size("num_key_value_heads", MaxHeads, heads),
            ExplicitHeadDim = Take(extra, "head_dim") is JsonNode hd ? HfConfigFields.Int(hd, "head_dim", source, 2, MaxHeadDim) : null,
            RopeTheta = double.IsNaN(ropeTheta) ? 10000.0 : ropeTheta,
            RmsNormEps = Dbl("rms_norm_eps", 1e-6, 0, 1, exclusiveMin: true),
            TieWordEmbeddings = HfConfigFields.Bool(Take(extra, "tie_word_embeddings"), "tie_word_embeddings", source, false),
            // Used only to check sequence lengths (rotary frequencies are computed per call, no table is allocated).
            MaxPositionEmbeddings = Size("max_position_embeddings", int.MaxValue, 32768),
            InitializerRange = Dbl("initializer_range", 0.02, 0, 1e3, exclusiveMin: false),
            BosTokenId = TokenId(Take(extra, "bos_token_id"), "bos_token_id"),
            EosTokenIds = eos,
            TorchDtype = Take(extra, "torch_dtype") is JsonNode td ? HfConfigFields.String(td, "torch_dtype", source, "float32")
                : HfConfigFields.String(Take(extra, "dtype"), "dtype", source, "float32"),
            Extra = extra,
        };
        cfg.Validate(source);
        return cfg;
    }

    /// <summary>The HF <c>config.json</c> text (published Qwen2.5 layout: <c>rope_theta</c> at top level).</summary>
    public string ToJson()
    {
        var o = (JsonObject)Extra.DeepClone();
        o.Remove("rope_parameters"); // rope_theta below is the single source of truth
        o["architectures"] ??= new JsonArray("Qwen2ForCausalLM");
        o["model_type"] = "qwen2";
        o["hidden_act"] ??= "silu";
        o["vocab_size"] = VocabSize;
        o["hidden_size"] = HiddenSize;
        o["intermediate_size"] = IntermediateSize;
        o["num_hidden_layers"] = NumHiddenLayers;
        o["num_attention_heads"] = NumAttentionHeads;
        o["num_key_value_heads"] = NumKeyValueHeads;
        if (ExplicitHeadDim is int hd) o["head_dim"] = hd;
        o["rope_theta"] = RopeTheta;
        o["rms_norm_eps"] = RmsNormEps;
        o["tie_word_embeddings"] = TieWordEmbeddings;
        o["max_position_embeddings"] = MaxPositionEmbeddings;
        o["initializer_range"] = InitializerRange;
        o["bos_token_id"] = BosTokenId is int b ? JsonValue.Create(b) : null;
        o["eos_token_id"] = EosTokenIds.Count switch
        {
            0 => null,
            1 => JsonValue.Create(EosTokenIds[0]),
            _ => new JsonArray(EosTokenIds.Select(x => (JsonNode)JsonValue.Create(x)).ToArray()),
        };
        o["torch_dtype"] = TorchDtype;
        o["use_sliding_window"] = false;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes config.json atomically (temp file + rename). <paramref name="path"/> is a file or a folder.</summary>
    public void Save(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        var tmp = file + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(tmp, ToJson());
        File.Move(tmp, file, overwrite: true);
    }

    private static JsonNode? Take(JsonObject o, string key)
    {
        if (!o.TryGetPropertyValue(key, out var n)) return null;
        o.Remove(key);
        return n;
    }
}
