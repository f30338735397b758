using OpenQwen2VL.Data.Checkpoints;
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
        string tmp = Begin(step);
        write(tmp);
        return Commit(step);
    }

    /// <summary>The hidden folder a checkpoint of <paramref name="step"/> is written into before <see cref="Commit"/>.</summary>
    public string TempPath(int step) => Path.Combine(Directory, ".tmp-" + RunLayout.StepFolderName(step));

    /// <summary>Creates the empty temp folder of <paramref name="step"/> (other ranks then write their shards into it).</summary>
    public string Begin(int step)
    {
        // A negative step would name a folder (step--00000002) that List() never sees, so never prunes.
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        System.IO.Directory.CreateDirectory(Directory);
        string tmp = TempPath(step);
        if (System.IO.Directory.Exists(tmp)) System.IO.Directory.Delete(tmp, true);
        System.IO.Directory.CreateDirectory(tmp);
        return tmp;
    }

    /// <summary>Renames the complete temp folder into place and prunes beyond keep-last-K.</summary>
    public string Commit(int step)
    {
        string final = Path.Combine(Directory, RunLayout.StepFolderName(step));
        if (System.IO.Directory.Exists(final)) System.IO.Directory.Delete(final, true);
        System.IO.Directory.Move(TempPath(step), final);
        foreach (var old in List().SkipLast(Math.Max(1, keepLast))) System.IO.Directory.Delete(old.Path, true);
        return final;
    }

    /// <summary>Where the checkpoint of <paramref name="step"/> lies once committed.</summary>
    public string FinalPath(int step) => Path.Combine(Directory, RunLayout.StepFolderName(step));

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<(int Step, string Path)> List() => RunLayout.ListCheckpoints(Directory);

    public (int Step, string Path)? Latest() => List() is { Count: > 0 } l ? l[^1] : null;

    /// <summary>
    /// The newest checkpoint that can be resumed (<see cref="UsableCheckpoint"/>): its trainer state parses, its step lies
    /// in [0, <paramref name="maxSteps"/>] and matches its folder, and <paramref name="checkFiles"/> (the caller's check of the tensors it will read: present,
    /// headers intact, expected shapes) finds nothing wrong. Each newer checkpoint that fails is reported through
    /// <paramref name="warn"/> (one line each) and skipped. Throws <see cref="InvalidDataException"/> when none is usable.
    /// </summary>
    public (int Step, string Path, TrainerState State) LatestValid(int maxSteps, Func<string, TrainerState, string?> checkFiles, Action<string> warn)
    {
        var all = List();
        if (all.Count == 0) throw new TrainingException($"--resume: no checkpoint in {Directory}");
        if (UsableCheckpoint.Newest(all, maxSteps, checkFiles, warn, out string? newestProblem) is { } usable) return usable;
        throw new InvalidDataException($"--resume: none of the {all.Count} checkpoint(s) in {Directory} is usable (newest {newestProblem}): start a new --out");
    }
}
