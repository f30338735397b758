using System.Text.Json.Nodes;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>SigLIP vision tower sizes, from a SiglipModel config (<c>vision_config</c>) or a SiglipVisionModel config.</summary>
public sealed record SiglipVisionConfig : SiglipEncoderConfig
{
    public int NumChannels { get; init; } = 3;
    public int ImageSize { get; init; } = 224;
    public int PatchSize { get; init; } = 16;
    public bool UseHead { get; init; } = true;

    /// <summary>Patches per side (the convolution floors, e.g. 384 / 14 → 27).</summary>
    public int GridSide => ImageSize / PatchSize;
    public int NumPatches => GridSide * GridSide;

    public static SiglipVisionConfig Load(string path) => FromJson(Section(path, "vision_config", "siglip_vision_model"));

    public static SiglipVisionConfig FromJson(JsonObject o)
    {
        var c = new SiglipVisionConfig
        {
            HiddenSize = Int(o, "hidden_size", 768),
            IntermediateSize = Int(o, "intermediate_size", 3072),
            NumHiddenLayers = Int(o, "num_hidden_layers", 12),
            NumAttentionHeads = Int(o, "num_attention_heads", 12),
            LayerNormEps = Dbl(o, "layer_norm_eps", 1e-6),
            HiddenAct = Str(o, "hidden_act", "gelu_pytorch_tanh"),
            NumChannels = Int(o, "num_channels", 3),
            ImageSize = Int(o, "image_size", 224),
            PatchSize = Int(o, "patch_size", 16),
            UseHead = o["vision_use_head"] is not JsonNode h || h.GetValue<bool>(),
        };
        c.Validate();
        return c;
    }

    /// <summary>The HF <c>config.json</c> of a SiglipVisionModel with these sizes.</summary>
    public string ToJson() => new JsonObject
    {
        ["architectures"] = new JsonArray("SiglipVisionModel"),
        ["model_type"] = "siglip_vision_model",
        ["hidden_size"] = HiddenSize,
        ["intermediate_size"] = IntermediateSize,
        ["num_hidden_layers"] = NumHiddenLayers,
        ["num_attention_heads"] = NumAttentionHeads,
        ["layer_norm_eps"] = LayerNormEps,
        ["hidden_act"] = HiddenAct,
        ["num_channels"] = NumChannels,
        ["image_size"] = ImageSize,
        ["patch_size"] = PatchSize,
        ["vision_use_head"] = UseHead,
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

    protected override void Validate()
    {
        base.Validate();
        if (PatchSize <= 0 || ImageSize < PatchSize || NumChannels <= 0)
            throw new InvalidDataException($"siglip vision config: image {ImageSize} / patch {PatchSize} / channels {NumChannels} invalid");
    }
}
