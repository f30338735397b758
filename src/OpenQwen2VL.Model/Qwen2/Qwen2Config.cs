using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

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

    public void Validate()
    {
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0)
            throw new InvalidDataException("qwen2 config: sizes must be positive");
        if (NumAttentionHeads <= 0 || NumKeyValueHeads <= 0 || NumAttentionHeads % NumKeyValueHeads != 0)
            throw new InvalidDataException($"qwen2 config: num_attention_heads {NumAttentionHeads} must be a multiple of num_key_value_heads {NumKeyValueHeads}");
        if (ExplicitHeadDim is null && HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"qwen2 config: hidden_size {HiddenSize} not divisible by num_attention_heads {NumAttentionHeads}");
        if (HeadDim % 2 != 0) throw new InvalidDataException($"qwen2 config: head dim {HeadDim} must be even for rotary embeddings");
    }

    public static Qwen2Config Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        return Parse(File.ReadAllText(file));
    }

    public static Qwen2Config Parse(string json)
    {
        var o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException("qwen2 config: not a JSON object");
        var extra = (JsonObject)o.DeepClone();
        int Int(string key, int fallback) => Take(extra, key) is JsonNode n ? n.GetValue<int>() : fallback;
        double Dbl(string key, double fallback) => Take(extra, key) is JsonNode n ? n.GetValue<double>() : fallback;

        // Transformers v5 moves rope_theta into rope_parameters; only the default (unscaled) rope is supported.
        double ropeTheta = Dbl("rope_theta", double.NaN);
        foreach (var key in new[] { "rope_parameters", "rope_scaling" })
        {
            if (extra[key] is not JsonObject rp) continue;
            var type = rp["rope_type"]?.GetValue<string>() ?? rp["type"]?.GetValue<string>() ?? "default";
            if (type != "default") throw new NotSupportedException($"qwen2 config: rope type '{type}' is not supported");
            if (double.IsNaN(ropeTheta) && rp["rope_theta"] is JsonNode t) ropeTheta = t.GetValue<double>();
        }
        if (extra["use_sliding_window"]?.GetValue<bool>() == true)
            throw new NotSupportedException("qwen2 config: sliding-window attention is not supported");

        var eos = Take(extra, "eos_token_id") switch
        {
            JsonArray a => a.Select(x => x!.GetValue<int>()).ToArray(),
            JsonValue v => [v.GetValue<int>()],
            _ => Array.Empty<int>(),
        };
        var heads = Int("num_attention_heads", 32);
        var cfg = new Qwen2Config
        {
            VocabSize = Int("vocab_size", 151936),
            HiddenSize = Int("hidden_size", 4096),
            IntermediateSize = Int("intermediate_size", 22016),
            NumHiddenLayers = Int("num_hidden_layers", 32),
            NumAttentionHeads = heads,
            NumKeyValueHeads = Take(extra, "num_key_value_heads") is JsonNode kv ? kv.GetValue<int>() : heads,
            ExplicitHeadDim = Take(extra, "head_dim") is JsonNode hd ? hd.GetValue<int>() : null,
            RopeTheta = double.IsNaN(ropeTheta) ? 10000.0 : ropeTheta,
            RmsNormEps = Dbl("rms_norm_eps", 1e-6),
            TieWordEmbeddings = Take(extra, "tie_word_embeddings") is JsonNode tie && tie.GetValue<bool>(),
            MaxPositionEmbeddings = Int("max_position_embeddings", 32768),
            InitializerRange = Dbl("initializer_range", 0.02),
            BosTokenId = Take(extra, "bos_token_id") is JsonValue b ? b.GetValue<int>() : null,
            EosTokenIds = eos,
            TorchDtype = (Take(extra, "torch_dtype") ?? Take(extra, "dtype"))?.GetValue<string>() ?? "float32",
            Extra = extra,
        };
        cfg.Validate();
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
