
namespace OpenQwen2VL.Tests.Integration;

public class DemoCommandTests
{
    [Theory]
    [InlineData("--out", "/nonexistent-parent-folder/x")]
    [InlineData("--device", "tpu")]
    [InlineData("--tokenizer", "/nonexistent/tokenizer.json")]
    public void BadFlagsAreUserErrors(string flag, string value) => CliInvocation.UserError("demo", flag, value);
}
