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

    /// <summary>Bounds of the input geometry (published: 224-512 px, patches of 14-16, 3 channels).</summary>
    public const int MaxImageSize = 4096, MaxChannels = 16;

    public static SiglipVisionConfig Load(string path)
    {
        var (section, source) = Section(path, "vision_config", "siglip_vision_model");
        return FromJson(section, source);
    }

    public static SiglipVisionConfig FromJson(JsonObject o) => FromJson(o, "siglip vision config");

    /// <param name="source">the config's name in messages</param>
    public static SiglipVisionConfig FromJson(JsonObject o, string source)
    {
        var c = new SiglipVisionConfig
        {
            HiddenSize = Int(o, source, "hidden_size", 768, MaxHiddenSize),
            IntermediateSize = Int(o, source, "intermediate_size", 3072, MaxIntermediateSize),
            NumHiddenLayers = Int(o, source, "num_hidden_layers", 12, MaxLayers),
            NumAttentionHeads = Int(o, source, "num_attention_heads", 12, MaxHeads),
            LayerNormEps = Eps(o, source, "layer_norm_eps", 1e-6),
            HiddenAct = Str(o, source, "hidden_act", "gelu_pytorch_tanh"),
            NumChannels = Int(o, source, "num_channels", 3, MaxChannels),
            ImageSize = Int(o, source, "image_size", 224, MaxImageSize),
            PatchSize = Int(o, source, "patch_size", 16, MaxImageSize),
            UseHead = Bool(o, source, "vision_use_head", true),
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
