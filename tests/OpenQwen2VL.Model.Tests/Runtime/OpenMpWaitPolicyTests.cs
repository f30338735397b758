using System.Runtime.InteropServices;
using OpenQwen2VL.Model.Runtime;
using Xunit;

namespace OpenQwen2VL.Model.Tests.Runtime;

public class OpenMpWaitPolicyTests
{
    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [Fact]
    public void Linux_native_environment_gets_the_passive_policy_unless_the_user_chose_one()
    {
        string? userValue = Environment.GetEnvironmentVariable(OpenMpWaitPolicy.Variable);
        string first = OpenMpWaitPolicy.Apply();
        Assert.Same(first, OpenMpWaitPolicy.Apply());
        if (!OperatingSystem.IsLinux()) return;
        // What OpenMP reads when libtorch loads is the native environment, not .NET's copy of it.
        string? native = Marshal.PtrToStringUTF8(GetEnv(OpenMpWaitPolicy.Variable));
        if (userValue is null)
        {
            Assert.Equal("applied", first);
            Assert.Equal("PASSIVE", native);
        }
        else
        {
            Assert.StartsWith("skipped", first);
            Assert.Equal(userValue, native);
        }
    }
}
