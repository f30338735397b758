using System.Runtime.InteropServices;

namespace OpenQwen2VL.Model.Runtime;

/// <summary>
/// Bounds how long libtorch's OpenMP threads spin at the end of a parallel op before they sleep. libgomp's default
/// (no variable set) spins about 3 ms, which turns any other busy thread on the cores into a stall of every op: a
/// descheduled team member holds the barrier while the others burn their time slices. Sleeping at once
/// (<c>OMP_WAIT_POLICY=PASSIVE</c>) cures that but pays a futex wake-up on every one of the thousands of small ops of a
/// step. A short spin (<c>GOMP_SPINCOUNT=10000</c>, about 0.1 ms) gets both.
/// <para>
/// Measured on the 2-core dev machine, 2 torch threads. `oqvl demo --quick` with two busy-looping shell processes on
/// the cores: PASSIVE 51.0 s, spin 1,000 53.8 s, spin 10,000 49.0 s, spin 100,000 109.4 s (the libgomp default of
/// 300,000 was 87-116 s for 40 tiny pre-training steps that take 2.1-6.2 s sleeping). `oqvl demo` on the idle
/// machine, per stage: vision 117.9 s PASSIVE, 109.4 s ACTIVE (spin forever), 103.2 s spin 10,000; pre-training
/// 29.1 / 25.8 / 23.6 s.
/// </para>
/// <para>
/// OpenMP reads the variables once, when libtorch is loaded, so this must run at process start, before the first
/// tensor; .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach the native
/// environment on Unix, hence setenv. Nothing is set where the user set either variable. GOMP_SPINCOUNT is libgomp's
/// (Linux libtorch); on macOS, whose libtorch uses LLVM's OpenMP, the sleeping policy is set instead.
/// </para>
/// </summary>
public static class OpenMpWaitPolicy
{
    public const string PolicyVariable = "OMP_WAIT_POLICY";
    public const string SpinCountVariable = "GOMP_SPINCOUNT";
    public const string SpinCount = "10000";
    static readonly object Gate = new();
    static string? _outcome;

    /// <summary>Sets the variable once per process; returns what happened (for logs and tests).</summary>
    public static string Apply()
    {
        lock (Gate) return _outcome ??= ApplyOnce();
    }

    /// <summary>The variable to set (null: none) given the environment and the platform.</summary>
    public static (string Name, string Value)? Choose(Func<string, string?> environment, bool linux, bool macOs)
    {
        if (!linux && !macOs) return null;
        if (environment(PolicyVariable) is not null || environment(SpinCountVariable) is not null) return null;
        return linux ? (SpinCountVariable, SpinCount) : (PolicyVariable, "PASSIVE");
    }

    static string ApplyOnce()
    {
        if (Choose(Environment.GetEnvironmentVariable, OperatingSystem.IsLinux(), OperatingSystem.IsMacOS()) is not var (name, value))
            return OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()
                ? $"skipped: the environment sets {PolicyVariable} or {SpinCountVariable}" : "skipped: not Unix";
        try
        {
            return SetEnv(name, value, 0) == 0 ? $"applied: {name}={value}" : "skipped: setenv failed";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "skipped: no setenv in libc";
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
