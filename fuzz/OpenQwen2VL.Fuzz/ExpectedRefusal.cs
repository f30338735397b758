using System.Text.Json;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Fuzz;

/// <summary>
/// The exceptions a parser may end with on bad input: those the CLI reports as one line with exit code 2 (see
/// src/OpenQwen2VL.Cli/FailureReport.cs). Anything else reaching the CLI is an "internal error" there, so it is a
/// finding here.
/// </summary>
public static class ExpectedRefusal
{
    public static bool Is(Exception e) => e is InvalidDataException or JsonException or StageContractException or PreTokenizerTimeoutException;

    /// <summary>Runs <paramref name="parse"/>, swallowing an expected refusal; every other exception goes on to the fuzzer.</summary>
    public static void Guard(Action parse)
    {
        LastRefusal = null;
        try { parse(); }
        catch (Exception e) when (Is(e)) { LastRefusal = e.Message.Split('\n')[0]; }
    }

    /// <summary>The refusal of the last guarded call on this thread, or null when it accepted its input (for `replay -v`).</summary>
    [ThreadStatic] public static string? LastRefusal;
}

/// <summary>A parser returned normally but broke one of its own guarantees (e.g. input = kept + skipped).</summary>
public sealed class InvariantBrokenException(string message) : Exception(message);
