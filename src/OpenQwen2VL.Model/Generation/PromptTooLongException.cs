namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// A prompt (image tokens included) that leaves no room for a new token under the model's max_position_embeddings:
/// positions past it were never trained (and a released config may size tables by it), so generation refuses it.
/// </summary>
public sealed class PromptTooLongException(int promptTokens, int maxPositions)
    : ArgumentException($"the prompt is {promptTokens} tokens (image tokens included): nothing can be generated within the model's max_position_embeddings of {maxPositions}")
{
    public int PromptTokens { get; } = promptTokens;
    public int MaxPositions { get; } = maxPositions;
}
