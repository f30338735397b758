using System.Globalization;

namespace OpenQwen2VL.Training.Checkpoints;

/// <summary>
/// RUN_DIR/checkpoints/step-NNNNNNNN folders. A checkpoint is written into a hidden temp folder and renamed
/// into place, so a crash mid-write never leaves a folder that looks complete; older ones beyond
/// keep-last-K are deleted after the new one is in place.
/// </summary>
public sealed class CheckpointStore(string directory, int keepLast)
{
    const string Prefix = "step-";
    public string Directory { get; } = directory;

    public string Save(int step, Action<string> write)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string final = Path.Combine(Directory, $"{Prefix}{step:D8}");
        string tmp = Path.Combine(Directory, $".tmp-{Prefix}{step:D8}");
        if (System.IO.Directory.Exists(tmp)) System.IO.Directory.Delete(tmp, true);
        System.IO.Directory.CreateDirectory(tmp);
        write(tmp);
        if (System.IO.Directory.Exists(final)) System.IO.Directory.Delete(final, true);
        System.IO.Directory.Move(tmp, final);
        foreach (var old in List().SkipLast(Math.Max(1, keepLast))) System.IO.Directory.Delete(old.Path, true);
        return final;
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<(int Step, string Path)> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        return System.IO.Directory.GetDirectories(Directory, Prefix + "*")
            .Select(p => (Ok: int.TryParse(Path.GetFileName(p)[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int s), Step: s, Path: p))
            .Where(x => x.Ok).OrderBy(x => x.Step).Select(x => (x.Step, x.Path)).ToList();
    }

    public (int Step, string Path)? Latest() => List() is { Count: > 0 } l ? l[^1] : null;
}
