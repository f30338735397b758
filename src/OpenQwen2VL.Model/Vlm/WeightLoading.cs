using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// Copies safetensors entries into a module's parameters by HF name (<c>prefix + parameter name</c>),
/// one tensor at a time, converting to each parameter's dtype and device. Every parameter must be
/// present with its shape; file entries the module does not use (e.g. the SigLIP text tower or last
/// block when only the vision backbone is built) are ignored and counted.
/// </summary>
public static class WeightLoading
{
    /// <returns>number of file entries under <paramref name="prefix"/> that the module did not use</returns>
    public static int CopyInto(nn.Module module, SafetensorsFile file, string prefix = "")
    {
        using var noGrad = no_grad();
        var used = new HashSet<string>();
        foreach (var (name, p) in module.named_parameters())
        {
            var key = prefix + name;
            if (!file.Contains(key)) throw new InvalidDataException($"{file.Path}: missing tensor '{key}'");
            var entry = file[key];
            if (!entry.Shape.SequenceEqual(p.shape))
                throw new InvalidDataException($"{file.Path}: '{key}' has shape [{string.Join(",", entry.Shape)}], the model expects [{string.Join(",", p.shape)}]");
            using var t = SafetensorsTensors.Read(file, entry, p.dtype, p.device);
            p.copy_(t);
            used.Add(key);
        }
        return file.Entries.Count(e => e.Name.StartsWith(prefix, StringComparison.Ordinal) && !used.Contains(e.Name));
    }
}
