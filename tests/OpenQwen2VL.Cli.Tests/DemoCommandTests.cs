using System.CommandLine;
using OpenQwen2VL.Cli;
using OpenQwen2VL.Cli.Commands;

namespace OpenQwen2VL.Tests.Integration;

public class DemoCommandTests
{
    [Theory]
    [InlineData("--out", "/nonexistent-parent-folder/x")]
    [InlineData("--device", "tpu")]
    [InlineData("--tokenizer", "/nonexistent/tokenizer.json")]
    public void BadFlagsAreUserErrors(string flag, string value)
    {
        var parse = Program.BuildRoot().Parse(["demo", flag, value]);
        Assert.Empty(parse.Errors);
        Assert.Throws<CliUserException>(() => parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }
}
