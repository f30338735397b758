namespace OpenQwen2VL.Cli;

/// <summary>A user error found by a command (a bad combination of flags, a missing input): one line, exit code 2.</summary>
public sealed class CliUserException(string message) : Exception(message);
