using System.Runtime.InteropServices;

namespace OpenQwen2VL.Data.Formats;

/// <summary>What a path names, with symlinks followed (the kind the kernel would open).</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    Fifo,
    CharacterDevice,
    BlockDevice,
    Socket,
    /// <summary>Could not be told apart from a regular file: only where statx is unavailable, for a file of size 0.</summary>
    Unknown,
}

/// <summary>
/// The type check every read of a user-named file goes through BEFORE the file is opened: open(2) on a FIFO blocks
/// until a writer appears (forever, for a FIFO given as a config.json), and <c>/dev/zero</c> never ends. .NET has no
/// file-type API: <see cref="FileSystemInfo.Attributes"/> says <c>Normal</c> and <see cref="FileInfo.Length"/> 0 for
/// a FIFO, a device and an empty regular file alike (and <see cref="FileInfo.Length"/> measures a symlink, not its
/// target). So the type comes from statx(2), whose buffer layout is the kernel's and the same on every architecture;
/// where statx is missing (not Linux), a file of size 0 at the end of its symlinks is <see cref="FileKind.Unknown"/>
/// and refused like a FIFO.
/// </summary>
public static class RegularFile
{
    /// <summary>Opens a file for reading once it is known to be a regular file; else <see cref="Refuse"/>'s exception.</summary>
    public static FileStream OpenRead(string path, string what, int bufferSize = 4096)
    {
        Require(path, what);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> "<c>path: not a regular file (a FIFO, what expected)</c>" unless
    /// <paramref name="path"/> is a regular file or missing (a missing file is left to the open that follows, which
    /// says so in its own words).
    /// </summary>
    public static void Require(string path, string what)
    {
        var kind = KindOf(path);
        if (kind is not (FileKind.Regular or FileKind.Missing)) throw Refuse(path, kind, what);
    }

    public static InvalidDataException Refuse(string path, FileKind kind, string what) =>
        new($"{path}: not a regular file ({Describe(kind)}, {what} expected)");

    public static FileKind KindOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path.Contains('\0')) return FileKind.Missing;
        return StatxKind(path) ?? Fallback(path);
    }

    private static string Describe(FileKind kind) => kind switch
    {
        FileKind.Directory => "a directory",
        FileKind.Fifo => "a FIFO",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        _ => "empty, or a FIFO or device",
    };

    private static FileKind FromMode(int mode) => (mode & S_IFMT) switch
    {
        S_IFREG => FileKind.Regular,
        S_IFDIR => FileKind.Directory,
        S_IFIFO => FileKind.Fifo,
        S_IFCHR => FileKind.CharacterDevice,
        S_IFBLK => FileKind.BlockDevice,
        S_IFSOCK => FileKind.Socket,
        _ => FileKind.Unknown,
    };

    private static FileKind Fallback(string path)
    {
        try
        {
            if (Directory.Exists(path)) return FileKind.Directory;
            var info = new FileInfo(path);
            if (!info.Exists) return FileKind.Missing;
            if (info.LinkTarget is not null)
                info = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
            return info.Exists && info.Length > 0 ? FileKind.Regular : FileKind.Unknown;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return FileKind.Missing; }
    }

    private const int S_IFMT = 0xF000, S_IFSOCK = 0xC000, S_IFREG = 0x8000, S_IFBLK = 0x6000, S_IFDIR = 0x4000,
        S_IFCHR = 0x2000, S_IFIFO = 0x1000;
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    /// <summary>struct statx: 256 bytes; stx_mode is the u16 at offset 28 (include/uapi/linux/stat.h).</summary>
    private const int StatxSize = 256, StxModeOffset = 28, StxMaskOffset = 0;
    private const int ENOENT = 2, ENOTDIR = 20;

    private static volatile bool _statxMissing = !OperatingSystem.IsLinux();

    /// <summary>The kind from statx (symlinks followed); null without statx or when it cannot tell.</summary>
    private static FileKind? StatxKind(string path)
    {
        if (_statxMissing) return null;
        var buffer = new byte[StatxSize];
        int rc;
        try { rc = statx(AtFdCwd, path, 0, StatxType, buffer); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _statxMissing = true;
            return null;
        }
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            // A dangling link, a missing file or folder: missing. Anything else (EACCES, ELOOP...): the fallback decides.
            return errno is ENOENT or ENOTDIR ? FileKind.Missing : null;
        }
        if ((BitConverter.ToUInt32(buffer, StxMaskOffset) & StatxType) == 0) return null;
        return FromMode(BitConverter.ToUInt16(buffer, StxModeOffset));
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, string pathname, int flags, uint mask, [Out] byte[] statxbuf);
}
