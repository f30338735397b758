using OpenQwen2VL.Data.Manifests;

namespace OpenQwen2VL.Training.Checkpoints;

/// <summary>
/// RUN_DIR/checkpoints/step-NNNNNNNN folders (<see cref="RunLayout"/>). A checkpoint is written into a hidden temp folder and renamed
/// into place, so a crash mid-write never leaves a folder that looks complete; older ones beyond
/// keep-last-K are deleted after the new one is in place.
/// </summary>
public sealed class CheckpointStore(string directory, int keepLast)
{
    public string Directory { get; } = directory;

    public string Save(int step, Action<string> write)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string final = Path.Combine(Directory, RunLayout.StepFolderName(step));
        string tmp = Path.Combine(Directory, ".tmp-" + RunLayout.StepFolderName(step));
        if (System.IO.Directory.Exists(tmp)) System.IO.Directory.Delete(tmp, true);
        System.IO.Directory.CreateDirectory(tmp);
        write(tmp);
        if (System.IO.Directory.Exists(final)) System.IO.Directory.Delete(final, true);
        System.IO.Directory.Move(tmp, final);
        foreach (var old in List().SkipLast(Math.Max(1, keepLast))) System.IO.Directory.Delete(old.Path, true);
        return final;
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<(int Step, string Path)> List() => RunLayout.ListCheckpoints(Directory);

    public (int Step, string Path)? Latest() => List() is { Count: > 0 } l ? l[^1] : null;
}
