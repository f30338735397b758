using System.Text.Json.Nodes;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>SigLIP text tower sizes, from a SiglipModel config (<c>text_config</c>) or a SiglipTextModel config.</summary>
public sealed record SiglipTextConfig : SiglipEncoderConfig
{
    public int VocabSize { get; init; } = 32000;
    public int MaxPositionEmbeddings { get; init; } = 64;
    public int ProjectionSize { get; init; } = 768;

    /// <summary>Bounds of the text tower's own tables (published: vocab 32000-256000, 64 positions).</summary>
    public const int MaxVocabSize = 1 << 24, MaxPositions = 1 << 20;

    public static SiglipTextConfig Load(string path)
    {
        var (section, source) = Section(path, "text_config", "siglip_text_model");
        return FromJson(section, source);
    }

    public static SiglipTextConfig FromJson(JsonObject o) => FromJson(o, "siglip text config");

    /// <param name="source">the config's name in messages</param>
    public static SiglipTextConfig FromJson(JsonObject o, string source)
    {
        var hidden = Int(o, source, "hidden_size", 768, MaxHiddenSize);
        var c = new SiglipTextConfig
        {
            HiddenSize = hidden,
            IntermediateSize = Int(o, source, "intermediate_size", 3072, MaxIntermediateSize),
            NumHiddenLayers = Int(o, source, "num_hidden_layers", 12, MaxLayers),
            NumAttentionHeads = Int(o, source, "num_attention_heads", 12, MaxHeads),
            LayerNormEps = Eps(o, source, "layer_norm_eps", 1e-6),
            HiddenAct = Str(o, source, "hidden_act", "gelu_pytorch_tanh"),
            VocabSize = Int(o, source, "vocab_size", 32000, MaxVocabSize),
            MaxPositionEmbeddings = Int(o, source, "max_position_embeddings", 64, MaxPositions),
            ProjectionSize = Int(o, source, "projection_size", hidden, MaxHiddenSize),
        };
        c.Validate();
        return c;
    }
}
