using System.Text;
using ADRaffy.ENSNormalize;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>
/// The NFC quick check may say "not sure" as often as it likes, but when it says "already NFC" the full
/// normalization (ENSNormalize's NFC, what TextNormalizer runs otherwise) must return the text unchanged.
/// </summary>
public class NfcQuickCheckTests
{
    /// <summary>What composes, decomposes, reorders or is left alone: marks of many classes, their bases, composites, singletons.</summary>
    private static readonly string[] s_atoms =
    [
        "a", "e", "A", "o", "u", "s", "ø", "é", "e\u0301", "Å", "\u212b", "\u2126", "\u1e69", "\u1e63", "ǖ", " ", "1", ".",
        "\u0300", "\u0301", "\u0308", "\u0316", "\u0323", "\u0327", "\u0328", "\u0334", "\u0345", "\u0340", "\u0344", "\u035c", "\u0362",
        "\u05b0", "\u05bc", "\u05c1", "\u05d0", "\u064b", "\u064e", "\u0650", "\u0651", "\u0653", "\u0654", "\u0627", "\u0648", "\u064a",
        "\u0915", "\u0928", "\u093c", "\u093f", "\u094d", "\u0958", "\u0929", "\u0b47", "\u0b3e", "\u0b56", "\u0bc6", "\u0bbe", "\u0bd7",
        "\u0cc6", "\u0cc2", "\u0cd5", "\u0cca", "\u0e01", "\u0e31", "\u0e35", "\u0e38", "\u0e48", "\u0f71", "\u0f72", "\u0f73", "\u0f40", "\u0fb5",
        "\u1100", "\u1161", "\u11a8", "\uac00", "\uac01", "\u3099", "\u309a", "\u304b", "\u304c", "\u30cf", "東", "Ж", "\u0419", "\u0418", "\u0306",
        "\U0001d15e", "\U0001d165", "\U0001d16e", "\U00011099", "\U000110ba", "\U0001109a", "\U0002f800", "🙂", "👍🏽", "\u200d", "\ufe0f",
        "\ud800", "\udc00",
    ];

    [Fact]
    public void EveryBmpCodePointAloneOrNextToMarksIsNeverWronglyAccepted()
    {
        for (int c = 0x80; c <= 0xFFFF; c++)
        {
            if (char.IsSurrogate((char)c)) continue;
            string alone = ((char)c).ToString();
            AssertNeverWronglyAccepted(alone);
            AssertNeverWronglyAccepted("a" + alone + "\u0301");
            AssertNeverWronglyAccepted(alone + "\u0316");  // a combining class above 220 taken for a starter would pass here
            AssertNeverWronglyAccepted("\u0301" + alone);
        }
    }

    [Fact]
    public void AstralCodePointsAreNeverWronglyAccepted()
    {
        for (int c = 0x10000; c <= 0x10FFFF; c += c is < 0x20000 or >= 0x2F800 and < 0x2FB00 ? 1 : 97)
        {
            AssertNeverWronglyAccepted(char.ConvertFromUtf32(c));
            AssertNeverWronglyAccepted(char.ConvertFromUtf32(c) + "\u0316");
        }
    }

    [Fact]
    public void RandomHostileTextsAreNeverWronglyAccepted()
    {
        var rng = new Random(29);
        var sb = new StringBuilder();
        int accepted = 0;
        for (int i = 0; i < 30_000; i++)
        {
            sb.Clear();
            for (int k = rng.Next(1, 7); k > 0; k--) sb.Append(s_atoms[rng.Next(s_atoms.Length)]);
            if (AssertNeverWronglyAccepted(sb.ToString())) accepted++;
        }
        Assert.InRange(accepted, 1000, 29_000);  // both answers were exercised
    }

    [Fact]
    public void HardTextsAndTheirNormalFormsAreNeverWronglyAccepted()
    {
        foreach (var text in HardTexts.Generate(3000, seed: 31, ["<|im_end|>"]))
        {
            AssertNeverWronglyAccepted(text);
            AssertNeverWronglyAccepted(ENSNormalize.NF.NFC(text));
        }
    }

    /// <summary>The point of the check: ordinary text of many scripts, once NFC, needs no normalization pass.</summary>
    [Theory]
    [InlineData("café naïve Ångström")]
    [InlineData("東京 한국어 Привет ελληνικά")]
    [InlineData("العربية हिन्दी ไทยที่สุด")]
    [InlineData("🙂 👩‍💻 𠮷 𝐀 — «ok»")]
    public void NormalizedTextOfManyScriptsIsAccepted(string text)
    {
        string normalized = ENSNormalize.NF.NFC(text);
        Assert.True(NfcQuickCheck.IsNormalized(normalized));
    }

    [Fact]
    public void TextThatNormalizationChangesIsRejected()
    {
        foreach (var text in new[] { "e\u0301", "\u212b", "\u2126", "\u1100\u1161", "\uac00\u11a8", "a\u0307\u0323", "\u0958", "\u0cca\u0cd5" })
        {
            Assert.NotEqual(text, ENSNormalize.NF.NFC(text));
            Assert.False(NfcQuickCheck.IsNormalized(text));
        }
    }

    /// <returns>whether the quick check accepted the text</returns>
    private static bool AssertNeverWronglyAccepted(string text)
    {
        if (!NfcQuickCheck.IsNormalized(text)) return false;
        string normalized = ENSNormalize.NF.NFC(text);
        if (normalized != text)
            Assert.Fail($"quick check accepted {string.Join(" ", text.EnumerateRunes().Select(r => $"U+{r.Value:X4}"))}, NFC changes it");
        return true;
    }
}
