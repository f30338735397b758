using System.CommandLine;
using OpenQwen2VL.Cli;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>Runs `oqvl` in-process through its real parser, capturing stdout and stderr; exceptions propagate.</summary>
internal static class CliInvocation
{
    public static (int Rc, string Out, string Err) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = Program.BuildRoot().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        return (rc, output.ToString(), error.ToString());
    }
}
