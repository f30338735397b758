using System.Text.Json.Nodes;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>SigLIP text tower sizes, from a SiglipModel config (<c>text_config</c>) or a SiglipTextModel config.</summary>
public sealed record SiglipTextConfig : SiglipEncoderConfig
{
    public int VocabSize { get; init; } = 32000;
    public int MaxPositionEmbeddings { get; init; } = 64;
    public int ProjectionSize { get; init; } = 768;

    public static SiglipTextConfig Load(string path) => FromJson(Section(path, "text_config", "siglip_text_model"));

    public static SiglipTextConfig FromJson(JsonObject o)
    {
        var hidden = Int(o, "hidden_size", 768);
        var c = new SiglipTextConfig
        {
            HiddenSize = hidden,
            IntermediateSize = Int(o, "intermediate_size", 3072),
            NumHiddenLayers = Int(o, "num_hidden_layers", 12),
            NumAttentionHeads = Int(o, "num_attention_heads", 12),
            LayerNormEps = Dbl(o, "layer_norm_eps", 1e-6),
            HiddenAct = Str(o, "hidden_act", "gelu_pytorch_tanh"),
            VocabSize = Int(o, "vocab_size", 32000),
            MaxPositionEmbeddings = Int(o, "max_position_embeddings", 64),
            ProjectionSize = Int(o, "projection_size", hidden),
        };
        c.Validate();
        return c;
    }
}
