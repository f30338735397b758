namespace OpenQwen2VL.Fuzz;

/// <summary>
/// A private folder for targets whose parser reads a path: each input is written to a file there first. On tmpfs
/// (/dev/shm) where there is one, so the write costs no disk I/O at thousands of inputs a second.
/// </summary>
public sealed class FuzzScratch : IDisposable
{
    public string Folder { get; }

    public FuzzScratch()
    {
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        Folder = Path.Combine(root, $"oqvl-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Folder);
    }

    /// <summary>Writes <paramref name="data"/> to <paramref name="name"/> in the folder and returns its path.</summary>
    public string Write(string name, ReadOnlySpan<byte> data)
    {
        string path = Path.Combine(Folder, name);
        using (var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1))
            f.Write(data);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
