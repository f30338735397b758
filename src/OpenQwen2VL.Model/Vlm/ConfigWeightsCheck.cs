using System.Globalization;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// Compares a config's sizes with the shapes in the checkpoint's header before the network is built, so a config that
/// disagrees with its weights (crafted, or from another model) is refused in one line naming the config value and the
/// weights' value, instead of first allocating whatever the config names. Only what the strict
/// <see cref="CheckpointLoader"/> would reject anyway is checked here (tensors that are absent are left to it).
/// </summary>
public static class ConfigWeightsCheck
{
    public static void Llm(Qwen2Config c, ICheckpointTensors weights)
    {
        const string layers = "model.layers.";
        Rows(weights, HfCheckpointConfig.EmbedTokensKey, "vocab_size", c.VocabSize, "hidden_size", c.HiddenSize);
        Rows(weights, "model.layers.0.mlp.gate_proj.weight", "intermediate_size", c.IntermediateSize, "hidden_size", c.HiddenSize);
        Rows(weights, "model.layers.0.self_attn.q_proj.weight", "num_attention_heads x head_dim", (long)c.NumAttentionHeads * c.HeadDim, "hidden_size", c.HiddenSize);
        Rows(weights, "model.layers.0.self_attn.k_proj.weight", "num_key_value_heads x head_dim", (long)c.NumKeyValueHeads * c.HeadDim, "hidden_size", c.HiddenSize);
        int held = LayerCount(weights, layers);
        if (held != c.NumHiddenLayers)
            throw Mismatch(weights, $"the LLM config says num_hidden_layers = {c.NumHiddenLayers}, the weights hold {Layers(held, layers)}");
    }

    /// <summary>A vision tower loaded as the VLM's backbone: its last block may be absent (the backbone does not build it).</summary>
    public static void VisionBackbone(SiglipVisionConfig c, ICheckpointTensors weights)
    {
        const string prefix = "vision_model.", layers = prefix + "encoder.layers.";
        string patch = prefix + "embeddings.patch_embedding.weight";
        if (weights.Contains(patch))
        {
            long[] s = weights.Shape(patch), expected = [c.HiddenSize, c.NumChannels, c.PatchSize, c.PatchSize];
            if (!s.SequenceEqual(expected))
                throw Mismatch(weights, $"the vision config says hidden_size {c.HiddenSize}, num_channels {c.NumChannels}, patch_size {c.PatchSize} "
                    + $"(patch_embedding [{Join(expected)}]), the weights' {patch} is [{Join(s)}]");
        }
        Rows(weights, prefix + "embeddings.position_embedding.weight", $"(image_size / patch_size)^2 = ({c.ImageSize} / {c.PatchSize})^2", c.NumPatches, "hidden_size", c.HiddenSize);
        Rows(weights, prefix + "encoder.layers.0.mlp.fc1.weight", "intermediate_size", c.IntermediateSize, "hidden_size", c.HiddenSize);
        int held = LayerCount(weights, layers);
        if (held != c.NumHiddenLayers && held != c.NumHiddenLayers - 1)
            throw Mismatch(weights, $"the vision config says num_hidden_layers = {c.NumHiddenLayers}, the weights hold {Layers(held, layers)}");
    }

    /// <summary>A 2-D tensor, when present, must be [rows, cols] as the config names them.</summary>
    private static void Rows(ICheckpointTensors weights, string name, string rowsKey, long rows, string colsKey, long cols)
    {
        if (!weights.Contains(name)) return;
        var s = weights.Shape(name);
        if (s.Length != 2) throw Mismatch(weights, $"{name} is [{Join(s)}], a matrix [{rowsKey}, {colsKey}] = [{rows}, {cols}] was expected");
        if (s[0] != rows) throw Mismatch(weights, $"the config says {rowsKey} = {rows}, the weights' {name} has {s[0]} rows ([{Join(s)}])");
        if (s[1] != cols) throw Mismatch(weights, $"the config says {colsKey} = {cols}, the weights' {name} has {s[1]} columns ([{Join(s)}])");
    }

    /// <summary>1 + the highest block index under <paramref name="prefix"/> (blocks <c>prefix.N.</c>); 0 when there is none.</summary>
    private static int LayerCount(ICheckpointTensors weights, string prefix)
    {
        int count = 0;
        foreach (var name in weights.Names)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int dot = name.IndexOf('.', prefix.Length);
            if (dot > prefix.Length && int.TryParse(name.AsSpan(prefix.Length, dot - prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int i))
                count = Math.Max(count, i + 1);
        }
        return count;
    }

    private static string Layers(int held, string prefix) => held == 0 ? $"no {prefix}N blocks" : $"{held} layers ({prefix}0 .. {prefix}{held - 1})";

    private static string Join(long[] shape) => string.Join(", ", shape);

    private static CheckpointMismatchException Mismatch(ICheckpointTensors weights, string problem) => new($"{weights.Source}: {problem}");
}
