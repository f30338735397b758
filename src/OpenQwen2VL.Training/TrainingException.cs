namespace OpenQwen2VL.Training;

/// <summary>A run that cannot go on (repeated NaN/Inf, out of memory, unusable checkpoint); the message says what to do.</summary>
public sealed class TrainingException(string message, Exception? inner = null) : Exception(message, inner);
