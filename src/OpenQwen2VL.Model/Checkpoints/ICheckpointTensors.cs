using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// Named tensors of a checkpoint, read one at a time (safetensors files, a torch.save archive). Lets
/// <see cref="CheckpointLoader"/> load any format into a module without materialising the whole checkpoint.
/// </summary>
public interface ICheckpointTensors
{
    /// <summary>Where the tensors come from (for messages).</summary>
    string Source { get; }
    IEnumerable<string> Names { get; }
    bool Contains(string name);
    long[] Shape(string name);
    /// <summary>Stored element type as a safetensors dtype name ("F32", "BF16", ...).</summary>
    string DType(string name);

    /// <summary>
    /// Copies the tensor into <paramref name="target"/> (same shape, any dtype or device), converting on the way.
    /// The caller disables autograd. At most one temporary of this tensor's size is created.
    /// </summary>
    void CopyInto(string name, Tensor target);
}

public static class CheckpointTensorsExtensions
{
    /// <summary>A new CPU tensor holding one checkpoint tensor, in its stored dtype unless <paramref name="dtype"/> is given.</summary>
    public static Tensor Read(this ICheckpointTensors source, string name, ScalarType? dtype = null)
    {
        var t = empty(source.Shape(name), dtype ?? SafetensorsTensors.ToScalarType(source.DType(name)));
        try
        {
            using (no_grad()) source.CopyInto(name, t);
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }
}
