using Spectre.Console;

namespace OpenQwen2VL.Cli.Options;

/// <summary>
/// The commands' live progress bars. Spectre.Console allows one live display per console at a time and throws
/// ("Trying to run one or more interactive functions concurrently") when a second starts, which happens when two
/// commands run in one process (the CLI tests run pack and train side by side); so displays take turns here.
/// </summary>
public static class LiveProgress
{
    static readonly object Turn = new();

    public static void Run(Progress progress, Action<ProgressContext> work)
    {
        lock (Turn) progress.Start(work);
    }
}
