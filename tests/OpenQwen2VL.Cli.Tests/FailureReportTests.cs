using System.Runtime.InteropServices;
using OpenQwen2VL.Cli;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Training;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>The one place failures become output: exit codes, one line, libtorch errors translated into what to check.</summary>
[Collection(TorchGlobalState.Name)]
public class FailureReportTests
{
    /// <summary>A real libtorch error: an embedding lookup past the table's rows, as a wrong tokenizer produces.</summary>
    private static Exception LibtorchIndexError()
    {
        using var table = nn.Embedding(10, 4);
        using var ids = tensor(new long[] { 3, 12 });
        try
        {
            using var _ = table.forward(ids);
        }
        catch (Exception e) { return e; }
        throw new Xunit.Sdk.XunitException("the out-of-range lookup did not fail");
    }

    [Fact]
    public void LibtorchIndexErrorBecomesOneLineAboutTheTokenizer()
    {
        var e = LibtorchIndexError();
        Assert.Contains("\n", e.Message + e.StackTrace); // what a user would otherwise see
        var (code, message) = FailureReport.Describe(e);
        Assert.Equal(FailureReport.RuntimeError, code);
        Assert.DoesNotContain('\n', message);
        Assert.Contains("tokenizer", message);
        Assert.DoesNotContain("frame #", message);
    }

    [Theory]
    [InlineData("CUDA out of memory. Tried to allocate 2.00 GiB\nException raised from malloc at c10/cuda/CUDACachingAllocator.cpp:1 (most recent call first):\nframe #0: c10::Error::Error", "micro_batch_sequences")]
    [InlineData("expected scalar type Float but found BFloat16\nException raised from check at x.cpp:1", "--dtype")]
    [InlineData("CUDA error: device-side assert triggered\nframe #0: x", "nvidia-smi")]
    public void LibtorchMessagesAreTranslated(string native, string hint)
    {
        var (code, message) = FailureReport.Describe(new ExternalException(native));
        Assert.Equal(FailureReport.RuntimeError, code);
        Assert.DoesNotContain('\n', message);
        Assert.Contains(hint, message);
        Assert.DoesNotContain("Exception raised from", message);
    }

    [Fact]
    public void UserErrorsExitTwoAndRuntimeFailuresOne()
    {
        Assert.Equal(2, FailureReport.Describe(new StageContractException("a\nb")).ExitCode);
        Assert.Equal("a", FailureReport.Describe(new StageContractException("a\nb")).Message);
        Assert.Equal(2, FailureReport.Describe(new CliUserException("x")).ExitCode);
        Assert.Equal(2, FailureReport.Describe(new FileNotFoundException("gone")).ExitCode);
        Assert.Equal(2, FailureReport.Describe(new InvalidDataException("bad header")).ExitCode);
        Assert.Equal(1, FailureReport.Describe(new TrainingException("NaN")).ExitCode);
        var (code, message) = FailureReport.Describe(new NullReferenceException("oops"));
        Assert.Equal(1, code);
        Assert.Contains("--verbose", message);
    }

    [Fact]
    public void VerboseAddsTheFullExceptionAndTheExitCodeStays()
    {
        string[] args = ["generate", "--model", "/nonexistent/model", "--prompt", "x"];
        var (rc, _, err) = CliInvocation.Invoke(args);
        var (rcVerbose, _, errVerbose) = CliInvocation.Invoke([.. args, "--verbose"]);
        Assert.Equal((2, 2), (rc, rcVerbose));
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("   at ", errVerbose);
        Assert.StartsWith(err.TrimEnd(), errVerbose);
    }
}
