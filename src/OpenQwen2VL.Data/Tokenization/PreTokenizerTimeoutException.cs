namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// A pre-tokenizer regex ran past its match timeout on one text (catastrophic backtracking in a tokenizer.json's
/// pattern). A data job counts the text as skipped; anywhere else it is a user error naming the pattern (the CLI maps
/// it to exit code 2, as it does InvalidDataException, which is sealed).
/// </summary>
public sealed class PreTokenizerTimeoutException(string pattern, TimeSpan timeout, int textLength)
    : Exception($"the tokenizer's pre-tokenizer regex {pattern} ran longer than {timeout.TotalSeconds:0.###} s on a text of {textLength} characters (catastrophic backtracking): fix the pattern in tokenizer.json")
{
    public string Pattern { get; } = pattern;
}
