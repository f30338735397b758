using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace OpenQwen2VL.Cli.Distributed;

/// <summary>
/// <c>oqvl train --nproc N</c>: starts the same command as N MPI ranks through MPICH's <c>mpiexec</c> (on this machine)
/// and waits for them; what <c>mpiexec -n N oqvl train ...</c> would do by hand. SIGINT/SIGTERM are passed on to
/// mpiexec, which passes them to the ranks (each saves its share of the checkpoint and they stop at the same step).
/// </summary>
public static class MpiLauncher
{
    /// <summary>The launcher: $OQVL_MPIEXEC, else MPICH's mpiexec.mpich, else an mpiexec on the PATH.</summary>
    public static string FindMpiexec()
    {
        if (Environment.GetEnvironmentVariable("OQVL_MPIEXEC") is { Length: > 0 } chosen) return chosen;
        foreach (var name in new[] { "mpiexec.mpich", "mpiexec.hydra", "mpiexec" })
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        throw new CliUserException("--nproc needs MPICH's mpiexec, which is not installed: apt-get install mpich libmpich-dev (or set OQVL_MPIEXEC)");
    }

    /// <summary>The command line that starts this program again: the apphost, or dotnet and the entry assembly.</summary>
    public static IReadOnlyList<string> ThisProgram()
    {
        string process = Environment.ProcessPath ?? throw new CliUserException("--nproc: cannot tell which program is running");
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Assembly.GetEntryAssembly()!.Location]
            : [process];
    }

    /// <summary><paramref name="args"/> without <c>--nproc N</c> / <c>--nproc=N</c>.</summary>
    public static List<string> WithoutNproc(IReadOnlyList<string> args)
    {
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--nproc") { i++; continue; }
            if (args[i].StartsWith("--nproc=", StringComparison.Ordinal)) continue;
            rest.Add(args[i]);
        }
        return rest;
    }

    /// <summary>Runs <paramref name="args"/> (this program's arguments, --nproc removed) as <paramref name="ranks"/> ranks; returns mpiexec's exit code, or 128 + the signal passed on to it (130, 143).</summary>
    public static int Run(int ranks, IReadOnlyList<string> args, TextWriter error)
    {
        var start = new ProcessStartInfo(FindMpiexec()) { UseShellExecute = false };
        start.ArgumentList.Add("-n");
        start.ArgumentList.Add(ranks.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var a in ThisProgram()) start.ArgumentList.Add(a);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new CliUserException($"--nproc: could not start {start.FileName}");
        PosixSignal? forwarded = null;
        void Forward(PosixSignalContext c)
        {
            c.Cancel = true;
            forwarded ??= c.Signal;
            try { kill(process.Id, c.Signal == PosixSignal.SIGINT ? 2 : 15); } catch (InvalidOperationException) { }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Forward);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Forward);
        process.WaitForExit();
        if (process.ExitCode != 0 && process.ExitCode is not (130 or 143))
        {
            error.WriteLine($"oqvl: the {ranks}-rank job failed (mpiexec exit code {process.ExitCode}); see the failing rank's line or mpiexec's report above");
            return process.ExitCode;
        }
        // The ranks vote to stop, so a rank the signal had not reached yet ends cleanly with 0, and mpiexec may report
        // that code: the job was still ended by the signal passed on here, and a scheduler must see it as a single
        // process's run would report it.
        return forwarded is { } signal ? Commands.TrainCommand.InterruptedExitCode(signal) : process.ExitCode;
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);
}
