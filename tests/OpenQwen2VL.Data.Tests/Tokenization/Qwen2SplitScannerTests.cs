using System.Text;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>
/// The hand-written Qwen2 split scanner against the reference, the .NET Regex of the same pattern run by
/// <see cref="SplitPattern"/> with its code-point semantics (which the HF parity tests check).
/// </summary>
public class Qwen2SplitScannerTests
{
    private static readonly SplitPattern s_reference = new(SplitPattern.Qwen2);

    /// <summary>What the pattern's classes and case folding could disagree on, and what makes matches backtrack.</summary>
    private static readonly string[] s_atoms =
    [
        "a", "Z", "é", "x", "0", "7", "42", ".", ",", "!?", "#", "-", "_", "\"", "(", "'", "’", "`",
        "'s", "'S", "'t", "'T", "'re", "'Re", "'rE", "'RE", "'ve", "'VE", "'m", "'M", "'ll", "'Ll", "'lL", "'LL", "'d", "'D",
        "'ſ", "\u017f", "'\u212a", "\u212a", "'r", "'l", "'v", "'x", "''", "n't", "'\u0301",
        " ", "  ", "\r", "\n", "\r\n", "\n\r", "\t", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2005", "\u200a",
        "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u180e", "\u200b", "\ufeff",
        "\u0301", "\u0308", "\u0327", "\u093f", "\u094d", "\u0e31", "\u0e48", "\u064e", "\u3099",
        "東", "京", "한", "ال", "مد", "क", "ि", "ก", "Ж", "λ", "ℌ", "Ⅻ", "½", "²", "٣",
        "𝐀", "𝐳", "𠀀", "𠮷", "𝟎", "𝟘", "🙂", "👍🏽", "👩‍💻", "❤️", "\ufe0f", "\u200d", "🇯🇵", "1️⃣",
        "\ud800", "\udc00", "\udbff", "\udfff", "\ud835",
    ];

    [Fact]
    public void EveryBmpCharacterInEveryContextSplitsLikeTheRegex()
    {
        var contexts = new[] { "{0}", "a{0}b", " {0}a", " {0} ", "'{0}", "'{0}e", "{0}{0}\n", "\n{0}\r\n", "1{0}2", "{0}.\n", "  {0}" };
        var sb = new StringBuilder();
        for (int c = 0; c <= 0xFFFF; c++)
        {
            string ch = ((char)c).ToString();
            sb.Clear();
            foreach (var context in contexts) sb.Append(context.Replace("{0}", ch)).Append('|');
            AssertSameMatches(sb.ToString());
        }
    }

    [Fact]
    public void RandomHostileTextsSplitLikeTheRegex()
    {
        var rng = new Random(17);
        var sb = new StringBuilder();
        for (int i = 0; i < 6000; i++)
        {
            sb.Clear();
            for (int k = rng.Next(1, 24); k > 0; k--)
            {
                sb.Append(s_atoms[rng.Next(s_atoms.Length)]);
                if (rng.Next(6) == 0) sb.Append(char.ConvertFromUtf32(RandomCodePoint(rng)));
            }
            AssertSameMatches(sb.ToString());
        }
    }

    [Fact]
    public void HardTextsSplitLikeTheRegex()
    {
        foreach (var text in HardTexts.Generate(3000, seed: 23, ["<|im_end|>", "<s>"])) AssertSameMatches(text);
    }

    [Fact]
    public void TheScannerIsUsedForTheQwen2PatternOnly()
    {
        var matches = new List<(int, int)>();
        new SplitPattern(SplitPattern.Gpt2).Matches("it's  ok", matches);
        var reference = new List<(int, int)>();
        new SplitPattern(SplitPattern.Gpt2).RegexMatches("it's  ok", reference);
        Assert.Equal(reference, matches);
        Assert.Equal(SplitPattern.Qwen2, s_reference.Pattern);
    }

    private static int RandomCodePoint(Random rng)
    {
        while (true)
        {
            int cp = rng.Next(4) == 0 ? rng.Next(0x10000, 0x30000) : rng.Next(0x20, 0x10000);
            if (cp is < 0xD800 or > 0xDFFF) return cp;
        }
    }

    private static void AssertSameMatches(string text)
    {
        var expected = new List<(int, int)>();
        s_reference.RegexMatches(text, expected);
        var actual = new List<(int, int)>();
        Qwen2SplitScanner.Matches(text, actual);
        if (!expected.SequenceEqual(actual))
            Assert.Fail($"text {Escape(text)}: regex [{string.Join(", ", expected)}], scanner [{string.Join(", ", actual)}]");
        var words = new List<ReadOnlyMemory<char>>();
        Qwen2SplitScanner.Split(text.AsMemory(), words);
        Assert.Equal(expected.Select(m => text.Substring(m.Item1, m.Item2)), words.Select(w => w.ToString()));
    }

    private static string Escape(string text) =>
        string.Concat(text.Select(c => c is >= ' ' and < '\u007f' ? c.ToString() : $"\\u{(int)c:x4}"));
}
