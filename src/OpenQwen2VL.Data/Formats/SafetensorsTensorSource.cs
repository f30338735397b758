namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// One tensor to be written to a safetensors file: its name, safetensors dtype ("F32", "BF16", ...),
/// shape, and a callback that writes exactly its row-major little-endian bytes. The callback is
/// invoked only when the writer reaches this tensor, so a caller can produce (convert, copy off a
/// device) one tensor at a time and never hold the whole file in memory.
/// </summary>
public sealed record SafetensorsTensorSource(string Name, string DType, long[] Shape, Action<Stream> WriteData)
{
    public long ByteLength => Shape.Aggregate(1L, (a, b) => a * b) * SafetensorsEntry.ElementSize(DType);

    /// <summary>A source over bytes already in memory (tests, small tensors).</summary>
    public static SafetensorsTensorSource FromBytes(string name, string dtype, long[] shape, byte[] data) =>
        new(name, dtype, shape, s => s.Write(data));
}
