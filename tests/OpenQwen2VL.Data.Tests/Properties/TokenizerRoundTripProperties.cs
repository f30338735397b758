using ADRaffy.ENSNormalize;
using CsCheck;
using OpenQwen2VL.Tests.Prompts;

namespace OpenQwen2VL.Tests.Properties;

/// <summary>
/// The fixture's byte-level BPE tokenizer loses nothing: decode(encode(s)) is s, for any Unicode text, after the
/// tokenizer's own NFC normalizer (so s itself when s is in NFC).
/// </summary>
public sealed class TokenizerRoundTripProperties
{
    /// <summary>NFC by its own Unicode tables: with InvariantGlobalization, string.Normalize leaves non-ASCII text as it is.</summary>
    private static string Nfc(string s) => ENSNormalize.NF.NFC(s);

    [Fact]
    public void DecodeOfEncodeIsTheNormalizedText()
    {
        var tokenizer = PromptTestTokenizer.Instance;
        PropertyGen.Text(40).Sample(s =>
            Assert.Equal(Nfc(s), tokenizer.Decode(tokenizer.Encode(s))), iter: 500);
    }
}
