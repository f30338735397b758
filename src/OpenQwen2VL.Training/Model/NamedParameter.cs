using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Model;

/// <summary>A parameter with its HF name inside its component (e.g. `model.layers.0.mlp.up_proj.weight`).</summary>
public sealed record NamedParameter(ModelComponent Component, string Name, TorchSharp.Modules.Parameter Parameter)
{
    /// <summary>Unique key across components, used for optimiser state.</summary>
    public string Key => $"{Component.ToString().ToLowerInvariant()}.{Name}";

    /// <summary>1-D tensors (norm scales, biases) get no weight decay.</summary>
    public bool IsNoDecay => Parameter.dim() <= 1 || Name.EndsWith(".bias", StringComparison.Ordinal);

    public long NumElements => Parameter.numel();

    public Tensor Tensor => Parameter;
}
