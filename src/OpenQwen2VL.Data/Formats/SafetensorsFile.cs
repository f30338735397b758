using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace OpenQwen2VL.Data.Formats;

/// <summary>One tensor's header entry in a safetensors file (validated by <see cref="SafetensorsHeader"/>). Offsets are absolute in the file.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Offset, long ByteLength)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public static int ElementSize(string dtype) =>
        TryElementSize(dtype) ?? throw new InvalidDataException($"unsupported safetensors dtype {dtype}");

    /// <summary>Bytes per element of a safetensors dtype, or null for a name the format does not define.</summary>
    public static int? TryElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => null,
    };
}

/// <summary>
/// Memory-mapped safetensors reader (8-byte header length, JSON header, raw little-endian data).
/// Hand-written because the format is tiny and mapping the file lets a multi-GB checkpoint be read
/// tensor by tensor without a second full copy in managed memory.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Dictionary<string, SafetensorsEntry> _entries = new(StringComparer.Ordinal);

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyCollection<SafetensorsEntry> Entries => _entries.Values;
    public long FileLength { get; }

    private SafetensorsFile(string path)
    {
        Path = path;
        // Opened through a stream: a symlink (every HF hub snapshot is made of them) is followed to its target, and
        // the length is the target's (FileInfo.Length of a link is the link's own). The header is read and validated
        // through the stream before the file is mapped or anything of a size it names is allocated.
        var stream = RegularFile.OpenRead(path, "a safetensors file", bufferSize: 1);
        try
        {
            FileLength = stream.Length;
            if (FileLength < 8) throw new InvalidDataException($"{path}: {FileLength} bytes is too short for a safetensors file");
            Span<byte> prefix = stackalloc byte[8];
            stream.ReadExactly(prefix);
            long headerLength = SafetensorsHeader.CheckHeaderLength(path, BinaryPrimitives.ReadUInt64LittleEndian(prefix), FileLength);
            var json = new byte[headerLength];
            stream.ReadExactly(json);
            var header = SafetensorsHeader.Parse(path, json, FileLength);
            foreach (var e in header.Entries) _entries.Add(e.Name, e);
            Metadata = header.Metadata;
            _map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        }
        catch
        {
            _map?.Dispose();
            stream.Dispose();
            throw;
        }
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    public static SafetensorsFile Open(string path) => new(path);

    public bool Contains(string name) => _entries.ContainsKey(name);

    public SafetensorsEntry this[string name] =>
        _entries.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <summary>Pointer to the tensor's raw bytes inside the mapping (valid while this object lives).</summary>
    public byte* Pointer(SafetensorsEntry e) => _base + e.Offset;

    /// <summary>Raw bytes as a span; tensors over 2 GiB must use <see cref="Pointer"/>.</summary>
    public ReadOnlySpan<byte> Bytes(SafetensorsEntry e) => new(_base + e.Offset, checked((int)e.ByteLength));

    /// <summary>Reads a floating tensor (F32, F16, BF16, F64) as float32, row-major.</summary>
    public float[] ReadFloat32(string name)
    {
        var e = this[name];
        var src = Bytes(e);
        var dst = new float[e.ElementCount];
        switch (e.DType)
        {
            case "F32": MemoryMarshal.Cast<byte, float>(src).CopyTo(dst); break;
            case "F64": { var d = MemoryMarshal.Cast<byte, double>(src); for (int i = 0; i < dst.Length; i++) dst[i] = (float)d[i]; break; }
            case "F16": { var h = MemoryMarshal.Cast<byte, Half>(src); for (int i = 0; i < dst.Length; i++) dst[i] = (float)h[i]; break; }
            case "BF16": { var u = MemoryMarshal.Cast<byte, ushort>(src); for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(u[i] << 16); break; }
            default: throw new InvalidDataException($"{name}: {e.DType} is not a floating dtype");
        }
        return dst;
    }

    /// <summary>Reads an integer tensor (I64, I32, I16, I8, U8, BOOL) as int64.</summary>
    public long[] ReadInt64(string name)
    {
        var e = this[name];
        var src = Bytes(e);
        var dst = new long[e.ElementCount];
        switch (e.DType)
        {
            case "I64": MemoryMarshal.Cast<byte, long>(src).CopyTo(dst); break;
            case "I32": { var s = MemoryMarshal.Cast<byte, int>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; break; }
            case "I16": { var s = MemoryMarshal.Cast<byte, short>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; break; }
            case "I8": { for (int i = 0; i < dst.Length; i++) dst[i] = (sbyte)src[i]; break; }
            case "U8" or "BOOL": { for (int i = 0; i < dst.Length; i++) dst[i] = src[i]; break; }
            default: throw new InvalidDataException($"{name}: {e.DType} is not an integer dtype");
        }
        return dst;
    }

    /// <summary>
    /// Drops this tensor's mapped pages from the process's resident set (Linux madvise DONTNEED; the data
    /// stays in the page cache and is faulted back in if read again). A loader calls it after copying a
    /// tensor out, so mapped file pages do not add up to a second full copy of the checkpoint in RSS.
    /// </summary>
    public void ReleasePages(SafetensorsEntry e) => ReleasePages(e, 0, e.ByteLength);

    /// <summary>Releases the mapped pages of bytes [start, start + length) of the tensor (see the overload above).</summary>
    public void ReleasePages(SafetensorsEntry e, long start, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return;
        if (start < 0 || start + length > e.ByteLength) throw new ArgumentOutOfRangeException(nameof(length));
        long page = Environment.SystemPageSize;
        long from = (long)(_base + e.Offset + start) / page * page;
        long end = (long)(_base + e.Offset + start + length);
        _ = NativeMethods.madvise((nint)from, (nuint)(end - from), NativeMethods.MADV_DONTNEED);
    }

    private static class NativeMethods
    {
        public const int MADV_DONTNEED = 4;
        [DllImport("libc", SetLastError = true)]
        public static extern int madvise(nint addr, nuint length, int advice);
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
