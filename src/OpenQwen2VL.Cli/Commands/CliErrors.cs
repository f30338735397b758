namespace OpenQwen2VL.Cli.Commands;

/// <summary>A user error (bad flag value, missing folder): printed as one line, exit code 2, no stack trace.</summary>
public sealed class CliUserException(string message) : Exception(message);
