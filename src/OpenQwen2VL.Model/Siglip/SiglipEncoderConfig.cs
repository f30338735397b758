using System.Text.Json.Nodes;
using OpenQwen2VL.Model.Checkpoints;

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

    /// <summary>
    /// Upper bounds of sizes read from a file, generous for every published SigLIP (SO400M: width 1152, MLP 4304, 27
    /// blocks, 16 heads) so that only a crafted or corrupt config reaches them.
    /// </summary>
    public const int MaxHiddenSize = 1 << 16, MaxIntermediateSize = 1 << 18, MaxLayers = 1024, MaxHeads = 1024;

    // Absent fields take HF's defaults: HF's own SigLIP configs omit the sizes that equal them (a base-size tower,
    // ~90M parameters), so unlike Qwen2 a missing size here is the format, not a hole. Present ones are type- and range-checked.
    protected static int Int(JsonObject o, string source, string key, int fallback, int max) => HfConfigFields.Int(o[key], key, source, 1, max, fallback);
    protected static double Eps(JsonObject o, string source, string key, double fallback) =>
        HfConfigFields.Double(o[key], key, source, 0, 1, fallback, exclusiveMin: true);
    protected static string Str(JsonObject o, string source, string key, string fallback) => HfConfigFields.String(o[key], key, source, fallback);
    protected static bool Bool(JsonObject o, string source, string key, bool fallback) => HfConfigFields.Bool(o[key], key, source, fallback);

    protected virtual void Validate()
    {
        if (HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0 || NumAttentionHeads <= 0 || HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"siglip config: invalid sizes (hidden {HiddenSize}, heads {NumAttentionHeads}, layers {NumHiddenLayers})");
        if (HiddenAct is not ("gelu_pytorch_tanh" or "gelu"))
            throw new NotSupportedException($"siglip config: hidden_act '{HiddenAct}' is not supported");
    }

    /// <summary>
    /// The sub-object <paramref name="key"/> of a SiglipModel config, or the whole object for a single-tower config,
    /// with its name for messages (the file, and the section).
    /// </summary>
    protected static (JsonObject Section, string Source) Section(string path, string key, string towerModelType)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        var root = HfConfigFields.ReadObject(file);
        if (root[key] is JsonObject section) return (section, $"{file} ({key})");
        var type = root["model_type"] is JsonNode t ? HfConfigFields.String(t, "model_type", file, "") : null;
        if (type == towerModelType) return (root, file);
        throw new InvalidDataException($"{file}: neither a SiglipModel config with '{key}' nor a {towerModelType} config");
    }
}
