namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// Reads a small file whole (a JSON config, a checkpoint index) after checking its size against a limit, so a
/// multi-GB file under a config's name is refused in one line instead of becoming a multi-GB allocation. The size is
/// the one of the opened file: a symlink is measured at its target.
/// </summary>
public static class BoundedFile
{
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        if (!stream.CanSeek) throw new InvalidDataException($"{path}: not a regular file ({what} expected)");
        long length = stream.Length;
        if (length > maxBytes)
            throw new InvalidDataException($"{path}: {length} bytes is too large for {what} (at most {maxBytes} bytes)");
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
