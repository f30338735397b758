using System.Text.Json.Nodes;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>Sizes shared by the SigLIP vision and text transformers (HF keys; defaults are HF's).</summary>
public abstract record SiglipEncoderConfig
{
    public int HiddenSize { get; init; } = 768;
    public int IntermediateSize { get; init; } = 3072;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 12;
    public double LayerNormEps { get; init; } = 1e-6;
    /// <summary><c>gelu_pytorch_tanh</c> (SigLIP's) or <c>gelu</c> (exact).</summary>
    public string HiddenAct { get; init; } = "gelu_pytorch_tanh";

    public int HeadDim => HiddenSize / NumAttentionHeads;

    protected static int Int(JsonObject o, string key, int fallback) => o[key] is JsonNode n ? n.GetValue<int>() : fallback;
    protected static double Dbl(JsonObject o, string key, double fallback) => o[key] is JsonNode n ? n.GetValue<double>() : fallback;
    protected static string Str(JsonObject o, string key, string fallback) => o[key] is JsonNode n ? n.GetValue<string>() : fallback;

    protected virtual void Validate()
    {
        if (HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0 || NumAttentionHeads <= 0 || HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"siglip config: invalid sizes (hidden {HiddenSize}, heads {NumAttentionHeads}, layers {NumHiddenLayers})");
        if (HiddenAct is not ("gelu_pytorch_tanh" or "gelu"))
            throw new NotSupportedException($"siglip config: hidden_act '{HiddenAct}' is not supported");
    }

    /// <summary>The sub-object <paramref name="key"/> of a SiglipModel config, or the whole object for a single-tower config.</summary>
    protected static JsonObject Section(string path, string key, string towerModelType)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        var root = JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new InvalidDataException($"{file}: not a JSON object");
        if (root[key] is JsonObject section) return section;
        var type = root["model_type"]?.GetValue<string>();
        if (type == towerModelType) return root;
        throw new InvalidDataException($"{file}: neither a SiglipModel config with '{key}' nor a {towerModelType} config");
    }
}
