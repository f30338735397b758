using OpenQwen2VL.Model.Checkpoints;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>Small modules with HF-style names for checkpoint tests (generic: no network class needed).</summary>
internal static class CheckpointTestModules
{
    public static readonly (string Name, long[] Shape)[] TinyLm =
    [
        ("model.embed_tokens.weight", [11, 8]),
        ("model.layers.0.self_attn.q_proj.weight", [8, 8]),
        ("model.layers.0.self_attn.q_proj.bias", [8]),
        ("model.layers.0.mlp.up_proj.weight", [12, 8]),
        ("model.layers.1.self_attn.q_proj.weight", [8, 8]),
        ("model.layers.1.self_attn.q_proj.bias", [8]),
        ("model.layers.1.mlp.up_proj.weight", [12, 8]),
        ("model.norm.weight", [8]),
        ("lm_head.weight", [11, 8]),
    ];

    public static CheckpointModule Create(IEnumerable<(string Name, long[] Shape)> layout, ScalarType dtype = ScalarType.Float32) =>
        CheckpointModule.Create(layout.Select(l => (l.Name, l.Shape, dtype)));

    /// <summary>The layout filled with distinct random values (seeded).</summary>
    public static CheckpointModule Random(IEnumerable<(string Name, long[] Shape)> layout, int seed)
    {
        var m = Create(layout);
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        using (no_grad())
            foreach (var (_, p) in m.named_parameters()) p.copy_(randn(p.shape, generator: gen));
        return m;
    }

    public static Dictionary<string, Tensor> State(TorchSharp.torch.nn.Module m) =>
        m.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

    public static byte[] Bytes(Tensor t)
    {
        using var c = t.detach().cpu().contiguous();
        return c.bytes.ToArray();
    }
}
