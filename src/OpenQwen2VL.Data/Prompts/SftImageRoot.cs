using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// The folder an SFT annotation file's image paths are relative to, and the only place images are read from.
/// An annotation file downloaded from the internet can name <c>/etc/passwd</c>, <c>../../secret</c>, a FIFO (which
/// blocks a reader forever) or <c>/dev/zero</c> (which never ends), so a path is used only when
/// <list type="bullet">
/// <item>with every symlink resolved (component by component, as the kernel does) it stays under the root, unless
/// the user allowed images outside it (<see cref="SftReadOptions.AllowImagesOutsideRoot"/>);</item>
/// <item>it is a regular file with data, checked before it is opened (<see cref="RegularFile"/>; an empty regular
/// file is no image either);</item>
/// <item>it is at most <see cref="MaxImageBytes"/> long, and it is read with a read bounded by that size.</item>
/// </list>
/// Each refusal is a skip reason, never an exception.
/// </summary>
public sealed class SftImageRoot
{
    /// <summary>64 MiB: far above any real photo or screenshot (the decoder's pixel limit refuses larger images anyway).</summary>
    public const long DefaultMaxImageBytes = 64L << 20;

    public const string ImageMissing = "image_missing";
    public const string ImageOutsideRoot = "image_outside_root";
    public const string ImageNotRegularFile = "image_not_a_regular_file";
    public const string ImageTooLarge = "image_too_large";
    public const string UnreadableImage = "unreadable_image";

    /// <summary>Symlinks followed while resolving one path (Linux's own limit is 40).</summary>
    private const int MaxSymlinkHops = 40;

    private readonly string _root;
    private readonly Lazy<string?> _resolvedRoot;

    public SftImageRoot(string root, bool allowOutsideRoot = false, long maxImageBytes = DefaultMaxImageBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxImageBytes);
        _root = Path.GetFullPath(root);
        AllowOutsideRoot = allowOutsideRoot;
        MaxImageBytes = maxImageBytes;
        _resolvedRoot = new(() => ResolveLinks(_root));
    }

    public bool AllowOutsideRoot { get; }
    public long MaxImageBytes { get; }

    /// <summary>
    /// The file a record's image path names (symlinks resolved), if it may be read; else the skip reason. Only
    /// metadata is touched here: nothing is opened.
    /// </summary>
    public bool TryResolve(string imagePath, out string fullPath, out string? skipReason)
    {
        fullPath = "";
        if (imagePath.Length == 0 || imagePath.Contains('\0')) { skipReason = ImageMissing; return false; }
        bool rooted = Path.IsPathRooted(imagePath);
        if (rooted && !AllowOutsideRoot) { skipReason = ImageOutsideRoot; return false; }
        string? resolved = ResolveLinks(rooted ? imagePath : Path.Join(_root, imagePath));
        if (resolved is null) { skipReason = UnreadableImage; return false; } // a symlink loop
        if (!AllowOutsideRoot && (_resolvedRoot.Value is not { } root || !IsUnder(resolved, root)))
        {
            skipReason = ImageOutsideRoot;
            return false;
        }
        if (!CheckFile(resolved, out skipReason)) return false;
        fullPath = resolved;
        return true;
    }

    /// <summary>
    /// Reads an image <see cref="TryResolve"/> accepted, checking its type and size again (the file may have changed
    /// since) and reading at most <see cref="MaxImageBytes"/>.
    /// </summary>
    public bool TryRead(string fullPath, out byte[] bytes, out string? skipReason)
    {
        bytes = [];
        try
        {
            if (!CheckFile(fullPath, out skipReason)) return false;
            using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            long length = Math.Min(new FileInfo(fullPath).Length, MaxImageBytes);
            var buffer = new byte[length];
            int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            bytes = read == buffer.Length ? buffer : buffer[..read]; // a file that shrank meanwhile: what is there
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            skipReason = UnreadableImage;
            return false;
        }
    }

    private bool CheckFile(string path, out string? skipReason)
    {
        try
        {
            switch (RegularFile.KindOf(path))
            {
                case FileKind.Missing: skipReason = ImageMissing; return false;
                case not FileKind.Regular: skipReason = ImageNotRegularFile; return false;
            }
            var info = new FileInfo(path);
            if (info.Length == 0) { skipReason = ImageNotRegularFile; return false; } // an empty file is no image
            if (info.Length > MaxImageBytes) { skipReason = ImageTooLarge; return false; }
            skipReason = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            skipReason = UnreadableImage;
            return false;
        }
    }

    private static bool IsUnder(string path, string root)
    {
        // Ordinal: the Linux file systems this runs on are case-sensitive.
        string prefix = Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>
    /// <paramref name="path"/> (absolute) with every symlink and <c>.</c>/<c>..</c> resolved, left to right as the
    /// kernel does (<c>link/..</c> is the parent of the link's target, not of the link); null on a symlink loop.
    /// Components that do not exist are kept as written.
    /// </summary>
    internal static string? ResolveLinks(string path)
    {
        string root = Path.GetPathRoot(path) ?? "/";
        var todo = new Stack<string>();
        PushComponents(todo, path[root.Length..]);
        string current = root;
        int hops = 0;
        while (todo.Count > 0)
        {
            string part = todo.Pop();
            if (part is "" or ".") continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current; // the parent of the root is the root
                continue;
            }
            string next = Path.Join(current, part);
            string? target;
            try { target = new FileInfo(next).LinkTarget; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { target = null; }
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++hops > MaxSymlinkHops) return null;
            if (Path.IsPathRooted(target))
            {
                current = Path.GetPathRoot(target) ?? "/";
                target = target[current.Length..];
            }
            PushComponents(todo, target);
        }
        return current;
    }

    private static void PushComponents(Stack<string> todo, string relative)
    {
        var parts = relative.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        for (int i = parts.Length - 1; i >= 0; i--) todo.Push(parts[i]);
    }
}
