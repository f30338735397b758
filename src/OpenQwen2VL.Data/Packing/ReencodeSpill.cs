using Microsoft.Win32.SafeHandles;

namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// Pack's re-encoded JPEGs between the scan, which makes them from the decode that validates each image, and the
/// write, which reads them back by offset: a temporary file in the output folder (where the packed shards will need
/// the space anyway), created on the first image and deleted when disposed. Appends come from one thread; reads may
/// come from many once the scan is over.
/// </summary>
internal sealed class ReencodeSpill(string outputDir) : IDisposable
{
    private FileStream? _file;
    private long _length;
    private bool _flushed;
    private readonly object _gate = new();

    /// <summary>Appends <paramref name="bytes"/> and returns their offset.</summary>
    public long Append(byte[] bytes)
    {
        if (_file is null)
        {
            Directory.CreateDirectory(outputDir);
            _file = new FileStream(Path.Combine(outputDir, $".reencoded-{Guid.NewGuid():N}.tmp"), FileMode.CreateNew, FileAccess.ReadWrite,
                FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        }
        long offset = _length;
        _file.Write(bytes);
        _length += bytes.Length;
        return offset;
    }

    /// <summary>The <paramref name="length"/> bytes appended at <paramref name="offset"/>.</summary>
    public byte[] Read(long offset, int length)
    {
        SafeFileHandle handle;
        lock (_gate)
        {
            if (_file is null) throw new InvalidOperationException("nothing was spilled");
            if (!_flushed) { _file.Flush(); _flushed = true; }
            handle = _file.SafeFileHandle;
        }
        var bytes = new byte[length];
        for (int read = 0; read < length;)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(read), offset + read);
            if (n == 0) throw new IOException($"{_file.Name} is shorter than written (re-encoded image at {offset})");
            read += n;
        }
        return bytes;
    }

    public void Dispose() => _file?.Dispose();
}
