namespace OpenQwen2VL.Data.Prompts;

/// <summary>A tokenized SFT conversation; <paramref name="ImagePaths"/> are full paths in marker order.</summary>
public sealed record SftSample(string Id, TokenizedSample Tokens, IReadOnlyList<string> ImagePaths, bool Truncated);
