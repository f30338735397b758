namespace OpenQwen2VL.Data.Tokenization;

/// <summary>Placeholder: the byte-level BPE tokenizer (HF tokenizer.json) lands with the data-pipeline work.</summary>
public sealed class BpeTokenizer : ITextTokenizer
{
    private BpeTokenizer() { }

    /// <summary>Loads a HF tokenizer.json.</summary>
    public static BpeTokenizer Load(string tokenizerJsonPath) =>
        throw new NotImplementedException("BpeTokenizer is not implemented yet");

    public int VocabSize => throw new NotImplementedException();
    public string Fingerprint => throw new NotImplementedException();
    public int[] Encode(string text) => throw new NotImplementedException();
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false) => throw new NotImplementedException();
    public int? TokenToId(string token) => throw new NotImplementedException();
}
