namespace OpenQwen2VL.Data.Checkpoints;

/// <summary>
/// Picks the newest usable checkpoint of a run, for <c>train --resume</c> and for <c>--model RUN_FOLDER</c> alike: its
/// trainer state parses and its step lies in [0, maxSteps] and matches its folder (<see cref="TrainerState.TryLoad"/>),
/// and the caller's file check (<see cref="CheckpointFiles.Problem"/> on the tensors it will read) finds nothing wrong.
/// A damaged copy of the newest one (a crash, a truncated download) then costs one warning, not the run.
/// </summary>
public static class UsableCheckpoint
{
    /// <summary>
    /// The newest usable checkpoint of <paramref name="all"/> (oldest first), each newer one that fails reported through
    /// <paramref name="warn"/> (one line each) and skipped; null when none is usable, with the newest's problem.
    /// </summary>
    public static (int Step, string Path, TrainerState State)? Newest(IReadOnlyList<(int Step, string Path)> all, int maxSteps,
        Func<string, TrainerState, string?> checkFiles, Action<string> warn, out string? newestProblem)
    {
        newestProblem = null;
        foreach (var (step, path) in all.Reverse())
        {
            var state = TrainerState.TryLoad(path, step, maxSteps, out string? problem);
            if (state is not null) problem = checkFiles(path, state);
            if (problem is null) return (step, path, state!);
            newestProblem ??= $"{Path.GetFileName(path)}: {problem}";
            warn($"warning: skipping checkpoint {path}: {problem}");
        }
        return null;
    }
}
