using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>Raw byte copies into contiguous CPU tensors, including tensors over 2 GiB (which a Span cannot cover).</summary>
internal static unsafe class TensorBytes
{
    private const long ChunkBytes = 1L << 30;

    /// <summary>True when bytes can be written straight into <paramref name="t"/>'s memory as stored dtype <paramref name="stored"/>.</summary>
    public static bool CanWriteDirectly(Tensor t, ScalarType stored) =>
        t.device_type == DeviceType.CPU && t.dtype == stored && t.is_contiguous();

    /// <summary>Copies <paramref name="length"/> bytes from <paramref name="src"/> into a contiguous CPU tensor of exactly that size.</summary>
    public static void CopyFrom(Tensor dst, byte* src, long length)
    {
        long elem = dst.ElementSize;
        if (dst.NumberOfElements * elem != length) throw new ArgumentException($"tensor holds {dst.NumberOfElements * elem} bytes, source has {length}");
        if (length == 0) return;
        if (length <= int.MaxValue)
        {
            new ReadOnlySpan<byte>(src, (int)length).CopyTo(dst.bytes);
            return;
        }
        // Flat views of ≤ 1 GiB: a narrowed contiguous view's data pointer includes its offset.
        using var flat = dst.view(-1);
        long perChunk = ChunkBytes / elem;
        for (long start = 0; start < dst.NumberOfElements; start += perChunk)
        {
            long n = Math.Min(perChunk, dst.NumberOfElements - start);
            using var part = flat.narrow(0, start, n);
            new ReadOnlySpan<byte>(src + start * elem, checked((int)(n * elem))).CopyTo(part.bytes);
        }
    }

    /// <summary>Writes one element-aligned piece (byte position, bytes) of a stream into a contiguous CPU tensor.</summary>
    public static void CopyChunk(Tensor dst, long position, ReadOnlySpan<byte> chunk)
    {
        long elem = dst.ElementSize;
        if (position % elem != 0 || chunk.Length % elem != 0) throw new ArgumentException("chunk is not element-aligned");
        using var flat = dst.view(-1);
        using var part = flat.narrow(0, position / elem, chunk.Length / elem);
        chunk.CopyTo(part.bytes);
    }
}
