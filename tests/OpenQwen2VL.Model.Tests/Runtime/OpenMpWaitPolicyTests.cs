using System.Runtime.InteropServices;
using OpenQwen2VL.Model.Runtime;
using Xunit;

namespace OpenQwen2VL.Model.Tests.Runtime;

public class OpenMpWaitPolicyTests
{
    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [Fact]
    public void Linux_native_environment_gets_the_short_spin_unless_the_user_chose_a_policy()
    {
        string? userPolicy = Environment.GetEnvironmentVariable(OpenMpWaitPolicy.PolicyVariable);
        string? userSpin = Environment.GetEnvironmentVariable(OpenMpWaitPolicy.SpinCountVariable);
        string first = OpenMpWaitPolicy.Apply();
        Assert.Same(first, OpenMpWaitPolicy.Apply());
        if (!OperatingSystem.IsLinux()) return;
        // What OpenMP reads when libtorch loads is the native environment, not .NET's copy of it.
        string? nativeSpin = Marshal.PtrToStringUTF8(GetEnv(OpenMpWaitPolicy.SpinCountVariable));
        string? nativePolicy = Marshal.PtrToStringUTF8(GetEnv(OpenMpWaitPolicy.PolicyVariable));
        if (userPolicy is null && userSpin is null)
        {
            Assert.Equal($"applied: {OpenMpWaitPolicy.SpinCountVariable}={OpenMpWaitPolicy.SpinCount}", first);
            Assert.Equal(OpenMpWaitPolicy.SpinCount, nativeSpin);
            Assert.Null(nativePolicy);
        }
        else
        {
            Assert.StartsWith("skipped", first);
            Assert.Equal(userSpin, nativeSpin);
            Assert.Equal(userPolicy, nativePolicy);
        }
    }

    [Theory]
    [InlineData(null, null, true, false, "GOMP_SPINCOUNT=10000")]
    [InlineData(null, null, false, true, "OMP_WAIT_POLICY=PASSIVE")]
    [InlineData(null, null, false, false, "")]
    [InlineData("ACTIVE", null, true, false, "")]
    [InlineData(null, "0", true, false, "")]
    [InlineData("PASSIVE", null, false, true, "")]
    public void A_user_choice_or_a_non_unix_platform_sets_nothing(string? policy, string? spin, bool linux, bool macOs, string expected)
    {
        var env = new Dictionary<string, string?> { [OpenMpWaitPolicy.PolicyVariable] = policy, [OpenMpWaitPolicy.SpinCountVariable] = spin };
        var chosen = OpenMpWaitPolicy.Choose(name => env.GetValueOrDefault(name), linux, macOs);
        Assert.Equal(expected, chosen is var (n, v) ? $"{n}={v}" : "");
    }
}
