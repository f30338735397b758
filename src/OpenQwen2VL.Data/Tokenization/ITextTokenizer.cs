namespace OpenQwen2VL.Data.Tokenization;

/// <summary>What the data pipeline needs from a tokenizer. Implemented by <see cref="BpeTokenizer"/>.</summary>
public interface ITextTokenizer
{
    /// <summary>Number of ids (base vocabulary + added tokens).</summary>
    int VocabSize { get; }

    /// <summary>Encodes text; special/added tokens written literally in the text are recognised.</summary>
    int[] Encode(string text);

    /// <summary>Decodes ids; special tokens are kept unless <paramref name="skipSpecial"/>.</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false);

    /// <summary>Id of a token string (vocabulary or added), or null.</summary>
    int? TokenToId(string token);

    /// <summary>Stable fingerprint of vocabulary, merges and added tokens (for packed-data headers).</summary>
    string Fingerprint { get; }
}
