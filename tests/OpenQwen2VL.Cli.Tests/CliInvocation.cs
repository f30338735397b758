using OpenQwen2VL.Cli;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>Runs `oqvl` in-process exactly as the terminal does (<see cref="Program.Run"/>: parser and failure reporting), capturing stdout and stderr.</summary>
internal static class CliInvocation
{
    public static (int Rc, string Out, string Err) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = Program.Run(args, output, error);
        return (rc, output.ToString(), error.ToString());
    }

    /// <summary>Runs a command that must succeed (exit code 0); on failure the assertion shows the command and its output.</summary>
    public static void Succeeds(params string[] args)
    {
        var (rc, output, err) = Invoke(args);
        Assert.True(rc == 0, $"oqvl {string.Join(' ', args)} -> {rc}\n{err}\n{output}");
    }

    /// <summary>
    /// Runs a command that must fail as a user error before doing any work: exit code 2 and exactly one line on stderr,
    /// which is returned.
    /// </summary>
    public static string UserError(params string[] args) => Failure(2, afterProgress: false, args);

    /// <summary>
    /// Runs a command that must fail with <paramref name="exitCode"/>: its stderr may hold progress lines first
    /// (<paramref name="afterProgress"/>), then exactly one failure line, the last; no stack frames anywhere. Returns that line.
    /// </summary>
    public static string Failure(int exitCode, bool afterProgress, params string[] args)
    {
        var (rc, output, err) = Invoke(args);
        Assert.True(rc == exitCode, $"exit code {rc}, stderr: {err}");
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(afterProgress ? lines.Length >= 1 : lines.Length == 1, $"{lines.Length} lines on stderr:\n{err}");
        Assert.Single(lines, l => l.StartsWith("oqvl: ", StringComparison.Ordinal));
        Assert.StartsWith("oqvl: ", lines[^1]);
        foreach (var text in new[] { err, output })
        {
            Assert.DoesNotContain("   at ", text);        // .NET stack frames
            Assert.DoesNotContain("frame #", text);       // libtorch's C++ frames
            Assert.DoesNotContain("Unhandled exception", text);
        }
        return lines[^1];
    }
}
