using System.Runtime.InteropServices;

namespace OpenQwen2VL.Model.Runtime;

/// <summary>
/// Makes libtorch's OpenMP threads sleep, rather than spin, while they wait at the end of a parallel op
/// (<c>OMP_WAIT_POLICY=PASSIVE</c>), because spinning threads turn any other busy thread on the cores into a stall of
/// every op: a descheduled team member holds the barrier while the others burn their time slices. Measured with
/// 40 pre-training steps of the tiny preset on 2 cores shared with other jobs (load 23-31), 2 torch threads: 87-116 s
/// spinning, 2.1-6.2 s sleeping (1 torch thread, spinning: 4.8-7 s); the demo's ">15 min with a second job".
/// <para>
/// OpenMP reads the variable once, when libtorch is loaded, so this must run at process start, before the first
/// tensor; .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach the native
/// environment on Unix, hence setenv. Skipped where the user set OMP_WAIT_POLICY, and on anything but Linux and macOS.
/// </para>
/// </summary>
public static class OpenMpWaitPolicy
{
    public const string Variable = "OMP_WAIT_POLICY";
    static readonly object Gate = new();
    static string? _outcome;

    /// <summary>Sets the policy once per process; returns what happened (for logs and tests).</summary>
    public static string Apply()
    {
        lock (Gate) return _outcome ??= ApplyOnce();
    }

    static string ApplyOnce()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return "skipped: not Unix";
        if (Environment.GetEnvironmentVariable(Variable) is not null) return $"skipped: the environment sets {Variable}";
        try
        {
            return SetEnv(Variable, "PASSIVE", 0) == 0 ? "applied" : "skipped: setenv failed";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "skipped: no setenv in libc";
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
