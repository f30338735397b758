using System.Runtime.InteropServices;

namespace OpenQwen2VL.Tests.Shards;

/// <summary>
/// FIFOs for hostile-input tests, and a guard that turns a read blocked on one into a failed test instead of a hung
/// suite: open(2) of a FIFO for reading waits for a writer, so the guard opens it for writing (and closes it) to let
/// the blocked call go on.
/// </summary>
public static class Fifo
{
    /// <summary>Linux only (the tests that use it return early elsewhere).</summary>
    public static string Create(string path)
    {
        if (mkfifo(path, 0b110_000_000) != 0) throw new IOException($"mkfifo {path}: errno {Marshal.GetLastPInvokeError()}");
        return path;
    }

    /// <summary>
    /// Runs <paramref name="call"/> on another thread and returns its result or rethrows its exception; throws
    /// <see cref="TimeoutException"/> when it did not return within <paramref name="seconds"/> (after unblocking it).
    /// </summary>
    public static T Within<T>(string fifo, Func<T> call, double seconds = 10)
    {
        var task = Task.Run(call);
        bool done = Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(seconds))).GetAwaiter().GetResult() == task;
        if (!done)
        {
            // A writer that opens and closes: the reader's open returns and its read sees end of file.
            var writer = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write).Dispose());
            writer.Wait(TimeSpan.FromSeconds(5));
            task.ContinueWith(t => _ = t.Exception, TaskScheduler.Default); // observed, whatever it ends with
            throw new TimeoutException($"the call blocked on the FIFO {fifo} for {seconds} s");
        }
        return task.GetAwaiter().GetResult();
    }

    public static void Within(string fifo, Action call, double seconds = 10) =>
        Within(fifo, () => { call(); return 0; }, seconds);

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);
}
