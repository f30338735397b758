using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Precision;

/// <summary>
/// Finds weights holding NaN/Inf with one host sync: a device-side all(isfinite) per tensor, stacked and copied
/// once. Each tensor's boolean mask is freed as soon as it is reduced, so the check needs one tensor's worth of memory.
/// </summary>
public static class NonFiniteWeights
{
    /// <summary>Name of the first tensor with a NaN/Inf value, or null when all are finite.</summary>
    public static string? First(IReadOnlyList<(string Name, Tensor Tensor)> tensors, Device device)
    {
        if (tensors.Count == 0) return null;
        using var scope = NewDisposeScope();
        var flags = new Tensor[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            using var finite = tensors[i].Tensor.detach().isfinite();
            flags[i] = finite.all().to(device);
        }
        var host = stack(flags).cpu().data<bool>().ToArray();
        int bad = Array.IndexOf(host, false);
        return bad < 0 ? null : tensors[bad].Name;
    }
}
