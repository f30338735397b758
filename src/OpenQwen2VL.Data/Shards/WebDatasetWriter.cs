using System.Formats.Tar;
using System.Runtime.InteropServices;

namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Streams WebDataset samples into one tar shard (System.Formats.Tar, GNU format so long names work).
/// The shard is written to <c>PATH.tmp</c> and renamed to <c>PATH</c> by <see cref="Complete"/> (or
/// <see cref="Dispose"/>), so a reader never sees a half-written shard. Members get a fixed timestamp
/// and mode, so the same samples give byte-identical shards.
/// </summary>
public sealed class WebDatasetWriter : IDisposable
{
    private static readonly DateTimeOffset FixedTime = DateTimeOffset.FromUnixTimeSeconds(0);
    private readonly FileStream _file;
    private readonly TarWriter _tar;
    private bool _completed;

    public WebDatasetWriter(string path)
    {
        Path = path;
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        _file = new FileStream(AtomicFile.TempPathFor(path), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        _tar = new TarWriter(_file, TarEntryFormat.Gnu, leaveOpen: true);
    }

    /// <summary>Final path of the shard (it exists once the writer is completed).</summary>
    public string Path { get; }
    public int SampleCount { get; private set; }
    /// <summary>Bytes written so far (tar headers and padding included).</summary>
    public long BytesWritten => _file.Position;

    /// <summary>
    /// Writes one sample: member <c>KEY.EXT</c> for each (extension, bytes) pair, in the dictionary's order. A member
    /// name that is not safe (<see cref="SampleKeys.Problem"/>: absolute, <c>..</c>, control characters) is refused
    /// with an ArgumentException before anything of the sample is written: the writer never sanitises, because a
    /// changed key could collide with another sample's; readers skip such samples first ("unsafe_key").
    /// </summary>
    public void Write(string key, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> members)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (SampleKeys.KeyProblem(key) is { } keyProblem)
            throw new ArgumentException($"unsafe sample key {System.Text.Json.JsonSerializer.Serialize(key)}: {keyProblem}", nameof(key));
        foreach (var name in members.Keys.Select(ext => MemberName(key, ext)).Prepend(key))
            if (SampleKeys.Problem(name) is { } problem)
                throw new ArgumentException($"unsafe sample member name {System.Text.Json.JsonSerializer.Serialize(name)}: {problem}", nameof(key));
        if (key.Contains('.', StringComparison.Ordinal) && key.LastIndexOf('.') > key.LastIndexOf('/'))
            throw new ArgumentException($"sample key '{key}' must not contain a dot in its basename", nameof(key));
        foreach (var (ext, bytes) in members)
            WriteMember(MemberName(key, ext), bytes);
        SampleCount++;
    }

    private static string MemberName(string key, string ext) => ext.Length == 0 ? key : key + "." + ext;

    private void WriteMember(string name, ReadOnlyMemory<byte> bytes)
    {
        using var data = MemoryMarshal.TryGetArray(bytes, out var seg)
            ? new MemoryStream(seg.Array!, seg.Offset, seg.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);
        var entry = new GnuTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = data,
            ModificationTime = FixedTime,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        _tar.WriteEntry(entry);
    }

    /// <summary>Ends the archive, flushes it to disk and renames the temporary file to <see cref="Path"/>.</summary>
    public void Complete()
    {
        if (_completed) return;
        _completed = true;
        _tar.Dispose(); // writes the two zero end-of-archive blocks
        _file.Flush(flushToDisk: true);
        _file.Dispose();
        File.Move(AtomicFile.TempPathFor(Path), Path, overwrite: true);
    }

    public void Dispose() => Complete();
}
