namespace OpenQwen2VL.Curation.Expressions;

/// <summary>
/// A <c>--keep</c> expression that cannot be used: a syntax error (with its position), an unknown score column (with the
/// known ones) or an unknown uid list. The message is one line that quotes the expression; the CLI reports it as a user
/// error.
/// </summary>
public sealed class KeepExpressionException(string message) : Exception(message);
