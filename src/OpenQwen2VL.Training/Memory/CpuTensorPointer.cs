using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Memory;

/// <summary>The data pointer of a contiguous CPU tensor, for native calls (MPI) and hand-written kernels (AdamW).</summary>
internal static unsafe class CpuTensorPointer
{
    /// <summary>Where <paramref name="t"/>'s elements start (a view's offset included). libtorch memory does not move.</summary>
    public static IntPtr Of(Tensor t)
    {
        fixed (byte* p = t.bytes) return (IntPtr)p;
    }
}
