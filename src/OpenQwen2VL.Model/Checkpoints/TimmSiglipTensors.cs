using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// A SigLIP vision tower saved in timm's naming (prismatic's <c>vision_backbone</c> entry: <c>featurizer.*</c> of a timm
/// VisionTransformer such as <c>vit_so400m_patch14_siglip_384</c>) presented under HF SiglipVisionModel names
/// (<c>vision_model.*</c>), so <see cref="CheckpointLoader"/> loads it like a published HF SigLIP. timm fuses the
/// attention input projection (<c>attn.qkv</c>, rows q|k|v) and keeps the position table as <c>pos_embed</c> [1, N, D];
/// HF splits q/k/v and stores [N, D]. timm's attention-pool head (<c>attn_pool.*</c>) is HF's <c>head</c>, which the
/// backbone never builds, so it is offered under HF-like names only to be ignored.
/// </summary>
public sealed partial class TimmSiglipTensors : ICheckpointTensors
{
    const string Hf = "vision_model.";
    readonly ICheckpointTensors _timm;
    readonly Dictionary<string, (string Timm, int Part, int Parts)> _map = new(StringComparer.Ordinal);

    /// <param name="timm">the tower's tensors under timm names, with or without the <c>featurizer.</c> prefix</param>
    public TimmSiglipTensors(ICheckpointTensors timm)
    {
        _timm = timm;
        foreach (var name in timm.Names)
        {
            string key = name.StartsWith("featurizer.", StringComparison.Ordinal) ? name["featurizer.".Length..] : name;
            if (key == "pos_embed") Add("embeddings.position_embedding.weight", name);
            else if (key.StartsWith("patch_embed.proj.", StringComparison.Ordinal)) Add("embeddings.patch_embedding." + key["patch_embed.proj.".Length..], name);
            else if (key.StartsWith("norm.", StringComparison.Ordinal)) Add("post_layernorm." + key["norm.".Length..], name);
            else if (key.StartsWith("attn_pool.", StringComparison.Ordinal)) Add("head." + key["attn_pool.".Length..], name);
            else if (Block().Match(key) is { Success: true } m)
            {
                string layer = $"encoder.layers.{m.Groups[1].Value}.", rest = m.Groups[2].Value;
                if (rest.StartsWith("attn.qkv.", StringComparison.Ordinal))
                {
                    string suffix = rest["attn.qkv.".Length..];
                    Add(layer + "self_attn.q_proj." + suffix, name, 0, 3);
                    Add(layer + "self_attn.k_proj." + suffix, name, 1, 3);
                    Add(layer + "self_attn.v_proj." + suffix, name, 2, 3);
                }
                else if (rest.StartsWith("attn.proj.", StringComparison.Ordinal)) Add(layer + "self_attn.out_proj." + rest["attn.proj.".Length..], name);
                else if (rest.StartsWith("norm1.", StringComparison.Ordinal)) Add(layer + "layer_norm1." + rest["norm1.".Length..], name);
                else if (rest.StartsWith("norm2.", StringComparison.Ordinal)) Add(layer + "layer_norm2." + rest["norm2.".Length..], name);
                else if (rest.StartsWith("mlp.", StringComparison.Ordinal)) Add(layer + rest, name);
                else Add("unmapped." + key, name);
            }
            else Add("unmapped." + key, name);   // shows up as unexpected in a strict load
        }
    }

    /// <summary>True when the names look like a timm ViT (<c>featurizer.blocks.*</c> or <c>blocks.*</c> with <c>pos_embed</c>).</summary>
    public static bool LooksLikeTimm(IEnumerable<string> names) =>
        names.Any(n => n is "pos_embed" or "featurizer.pos_embed");

    [GeneratedRegex(@"^blocks\.(\d+)\.(.+)$")]
    private static partial Regex Block();

    void Add(string hf, string timm, int part = 0, int parts = 1) => _map[Hf + hf] = (timm, part, parts);

    public string Source => _timm.Source + " (timm naming)";
    public IEnumerable<string> Names => _map.Keys;
    public bool Contains(string name) => _map.ContainsKey(name);

    public long[] Shape(string name)
    {
        var (timm, _, parts) = _map[name];
        var shape = _timm.Shape(timm);
        if (name.EndsWith("position_embedding.weight", StringComparison.Ordinal) && shape.Length == 3 && shape[0] == 1) return shape[1..];
        if (parts > 1) { shape = (long[])shape.Clone(); shape[0] /= parts; }
        return shape;
    }

    public string DType(string name) => _timm.DType(_map[name].Timm);

    public void CopyInto(string name, Tensor target)
    {
        var (timm, part, parts) = _map[name];
        if (parts == 1 && _timm.Shape(timm).Length == target.dim())
        {
            _timm.CopyInto(timm, target);
            return;
        }
        // A fused q|k|v tensor or the batched position table: read the whole source once, copy the part.
        using var whole = _timm.Read(timm);
        long rows = whole.shape[0] / parts;
        using var slice = parts > 1 ? whole.narrow(0, part * rows, rows) : whole.reshape(target.shape);
        target.copy_(slice);
    }
}
