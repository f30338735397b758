using OpenQwen2VL.Data.Prompts;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>One message of a chat request: its role and text, with <see cref="MultimodalTokens.ImagePlaceholder"/> where its images go.</summary>
public sealed record ChatMessage(ChatRole Role, string Text);
