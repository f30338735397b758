using OpenQwen2VL.Model.Generation;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>A validated <c>/v1/chat/completions</c> body: messages, preprocessed images (host floats) and decoding options.</summary>
public sealed record ChatRequest
{
    public required IReadOnlyList<ChatMessage> Messages { get; init; }
    /// <summary>Each image preprocessed to the vision tower's CHW floats, in the order of the placeholders.</summary>
    public required IReadOnlyList<float[]> Images { get; init; }
    /// <summary>max_tokens, or null for the server's default.</summary>
    public int? MaxTokens { get; init; }
    /// <summary>Greedy at temperature 0, else sampled with temperature, top_p and seed.</summary>
    public required GenerationOptions Options { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool Stream { get; init; }
    /// <summary>stream_options.include_usage: a last chunk carries usage.</summary>
    public bool StreamUsage { get; init; }
}
