using System.Runtime.InteropServices;
using System.Text.Json;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Training;

namespace OpenQwen2VL.Cli;

/// <summary>
/// The one place where a failure becomes output: a user error (bad flag, missing file, mismatched stages, bad data or
/// checkpoint) is one line and exit code 2; a runtime failure is one line with its likely cause and exit code 1. A
/// libtorch error is translated here into what to check, never shown as a C++ frame dump; <c>--verbose</c> adds the
/// full exception.
/// </summary>
public static class FailureReport
{
    public const int UserError = 2;
    public const int RuntimeError = 1;

    public static (int ExitCode, string Message) Describe(Exception e)
    {
        e = Unwrap(e);
        return e switch
        {
            CliUserException or StageContractException or PreTokenizerTimeoutException => (UserError, FirstLine(e.Message)),
            CheckpointMismatchException => (UserError, $"the checkpoint does not fit the model: {FirstLine(e.Message)}"),
            FileNotFoundException or DirectoryNotFoundException => (UserError, FirstLine(e.Message)),
            InvalidDataException or JsonException => (UserError, $"unreadable input: {FirstLine(e.Message)}"),
            TrainingException => (RuntimeError, FirstLine(e.Message)),
            OperationCanceledException => (RuntimeError, "cancelled"),
            UnauthorizedAccessException => (RuntimeError, $"permission denied: {FirstLine(e.Message)}"),
            IOException io when io.HResult == unchecked((int)0x80070070) || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
                => (RuntimeError, $"the disk is full: {FirstLine(e.Message)}"),
            IOException => (RuntimeError, $"I/O error: {FirstLine(e.Message)}"),
            OutOfMemoryException => (RuntimeError, "out of memory: lower the batch (--set micro_batch_sequences=N), use --dtype bf16 or a smaller model"),
            ExternalException or InvalidOperationException when IsLibtorch(e.Message) => (RuntimeError, Libtorch(e.Message)),
            _ => (RuntimeError, $"internal error ({e.GetType().Name}: {FirstLine(e.Message)}); this is a bug: run again with --verbose and report the output"),
        };
    }

    static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } or System.Reflection.TargetInvocationException && e.InnerException is { } inner) e = inner;
        return e;
    }

    /// <summary>TorchSharp surfaces libtorch errors with the C++ message, often followed by "Exception raised from ... frame #0".</summary>
    static bool IsLibtorch(string message) =>
        message.Contains("Exception raised from", StringComparison.Ordinal) || message.Contains("frame #", StringComparison.Ordinal)
        || message.Contains("out of range in self", StringComparison.Ordinal) || message.Contains("CUDA", StringComparison.Ordinal)
        || message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || message.Contains("expected scalar type", StringComparison.OrdinalIgnoreCase);

    static string Libtorch(string message)
    {
        string first = FirstLine(message);
        if (message.Contains("out of range in self", StringComparison.Ordinal))
            return "a token id is outside the model's embedding table (libtorch: index out of range): the data was tokenized with another tokenizer than the model's; compare the tokenizer in the data's and the model's manifest.json";
        if (message.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
            return $"out of memory ({first}): lower --set micro_batch_sequences (the global batch is kept by accumulation), keep activation_checkpointing on, or use --dtype bf16";
        if (message.Contains("expected scalar type", StringComparison.OrdinalIgnoreCase) || message.Contains("dtype", StringComparison.OrdinalIgnoreCase))
            return $"a dtype mismatch inside the model ({first}): load every part with one --dtype";
        if (message.Contains("CUDA", StringComparison.Ordinal))
            return $"CUDA error ({first}): check the GPU (nvidia-smi), --device and the CUDA build (OQVL_TORCH_BACKEND=cuda)";
        return $"libtorch error: {first}";
    }

    static string FirstLine(string message)
    {
        var line = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        int raised = line.IndexOf("Exception raised from", StringComparison.Ordinal);
        return (raised > 0 ? line[..raised] : line).Trim();
    }
}
