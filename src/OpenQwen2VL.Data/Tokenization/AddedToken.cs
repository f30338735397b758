namespace OpenQwen2VL.Data.Tokenization;

/// <summary>An entry of tokenizer.json `added_tokens`: matched literally in the text before normalisation and pre-tokenisation.</summary>
/// <param name="LStrip">also swallows whitespace on its left</param>
/// <param name="RStrip">also swallows whitespace on its right</param>
/// <param name="SingleWord">only matches when not inside a word</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false, bool SingleWord = false);
