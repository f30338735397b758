using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Manifests;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// The multimodal part of an HF LLaVA-Qwen config (LLaVA-Unified's <c>llava_qwen</c>: MLM-Filter's Qwen2.5 model).
/// The LLM fields are a Qwen2 config's; these say how the image reaches it. Supported is what our VLM computes:
/// the SigLIP tower's second-to-last block (<c>mm_vision_select_layer</c> -2, every patch), an <c>mlp2x_gelu</c>
/// projector (Linear, exact GELU, Linear: our projector with no pooling), no image start/end tokens. Anything else is
/// refused in one line rather than run as a different model.
/// </summary>
public sealed record LlavaQwenConfig(string VisionTower, int VisionHiddenSize)
{
    public const string ModelType = "llava_qwen";
    private const string ProjectorPrefix = "model.mm_projector.", VisionPrefix = "model.vision_tower.";

    public static bool IsLlavaQwen(string dir)
    {
        string file = Path.Combine(dir, "config.json");
        if (!File.Exists(file)) return false;
        try { return JsonNode.Parse(BoundedFile.ReadAllText(file, BoundedFile.SmallJsonMaxBytes, "a model config"))?["model_type"]?.GetValue<string>() == ModelType; }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return false; }
    }

    public static LlavaQwenConfig Read(string dir)
    {
        string file = Path.Combine(dir, "config.json");
        JsonObject o;
        try { o = JsonNode.Parse(BoundedFile.ReadAllText(file, BoundedFile.SmallJsonMaxBytes, "a model config"))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new StageContractException($"{file}: not a JSON object ({e.Message})");
        }
        string? Str(string key) => o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        int? Int(string key) => o[key] is JsonValue v && v.TryGetValue(out int i) ? i : null;
        bool? Bool(string key) => o[key] is JsonValue v && v.TryGetValue(out bool b) ? b : null;
        void Require(bool ok, string what) { if (!ok) throw new StageContractException($"{file}: {what} is not supported (our VLM reads SigLIP's second-to-last block through an mlp2x_gelu projector)"); }

        Require(Str("mm_projector_type") == "mlp2x_gelu", $"mm_projector_type {Str("mm_projector_type") ?? "(missing)"}");
        Require((Int("mm_vision_select_layer") ?? -2) == -2, $"mm_vision_select_layer {Int("mm_vision_select_layer")}");
        Require((Str("mm_vision_select_feature") ?? "patch") == "patch", $"mm_vision_select_feature {Str("mm_vision_select_feature")}");
        Require(Bool("mm_use_im_start_end") != true, "mm_use_im_start_end true");
        Require((Str("mm_patch_merge_type") ?? "flat") == "flat", $"mm_patch_merge_type {Str("mm_patch_merge_type")}");
        string tower = Str("mm_vision_tower") ?? Str("vision_tower") ?? "(the config names no mm_vision_tower)";
        int width = Int("mm_hidden_size") ?? throw new StageContractException($"{file}: no mm_hidden_size (the vision tower's width the projector takes)");
        return new LlavaQwenConfig(tower, width);
    }

    /// <summary>Checkpoint name → LLM name: the LLM keeps HF Qwen2 names; the projector and any vision tower go elsewhere.</summary>
    public static string? LlmName(string key) =>
        key.StartsWith(ProjectorPrefix, StringComparison.Ordinal) || key.StartsWith(VisionPrefix, StringComparison.Ordinal) ? null : key;

    /// <summary>Checkpoint name → projector name: <c>model.mm_projector.0.weight</c> → <c>mlp_projector.0.weight</c>; others ignored.</summary>
    public static string? ProjectorName(string key) =>
        key.StartsWith(ProjectorPrefix, StringComparison.Ordinal) ? "mlp_projector." + key[ProjectorPrefix.Length..] : null;
}
