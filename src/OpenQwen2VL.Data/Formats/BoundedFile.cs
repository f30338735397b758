namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// Reads a small file whole (a JSON config, a checkpoint index) after checking its type and its size against a limit,
/// so a FIFO under a config's name is refused before it is opened (<see cref="RegularFile"/>), and a multi-GB file is
/// refused in one line instead of becoming a multi-GB allocation. The size is the one of the opened file: a symlink
/// is measured at its target.
/// </summary>
public static class BoundedFile
{
    /// <summary>64 MiB: the cap for a file oqvl or a hub writes as a small JSON (a config, a manifest, a trainer state).</summary>
    public const long SmallJsonMaxBytes = 64L << 20;

    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        using var stream = RegularFile.OpenRead(path, what, bufferSize: 1);
        if (!stream.CanSeek) throw new InvalidDataException($"{path}: not a regular file ({what} expected)");
        long length = stream.Length;
        if (length > maxBytes)
            throw new InvalidDataException($"{path}: {length} bytes is too large for {what} (at most {maxBytes} bytes)");
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary><see cref="ReadAllBytes"/> decoded as text the way <see cref="File.ReadAllText(string)"/> does (UTF-8 unless a BOM says otherwise).</summary>
    public static string ReadAllText(string path, long maxBytes, string what)
    {
        using var reader = new StreamReader(new MemoryStream(ReadAllBytes(path, maxBytes, what)), detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }
}
