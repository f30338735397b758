using System.Text;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>
/// Our tokenizer against HF tokenizers itself (the Rust library, through Tokenizers.DotNet) on random texts
/// built from the hard parts: NFC composition, astral letters and emoji next to letters, contractions in
/// any case, every kind of whitespace and newline, digits, punctuation runs, special tokens in the text.
/// </summary>
[Trait("Category", "Parity")]
public class BpeTokenizerDifferentialTests
{
    private static readonly string[] s_atoms =
    [
        "the", "The", " ", "  ", "\t", "\n", "\r\n", "\n\n", "\r", "cat", "'s", "'S", "'ll", "'LL", "'re", "don't", "1", "42", "2024",
        ".", "!?", "...", "#$%", "(", ")", "café", "cafe\u0301", "naïve", "東京", "𠮷", "𝐀𝐁", "𝟘𝟙", "🙂", "👍🏽", "Привет", "한국어",
        "\u1100\u1161", "x\u0301\u0302", "\u00a0", "\u3000", "\u2028", "\u0085", "ſ", "\u212a", "-", "_", "a_b", "ℌ", "Ⅻ", "½",
        "<s>", "<|im_end|>", "<|endofchunk|>", "<|im_start|>", "<", "|", ">",
    ];

    [Fact]
    public void RandomTextsEncodeAndDecodeLikeHuggingFace()
    {
        string path = ReferenceFixtures.File("tokenizer.json");
        var ours = BpeTokenizer.Load(path);
        using var reference = new Tokenizers.DotNet.Tokenizer(path);
        var rng = new Random(7);
        for (int i = 0; i < 1500; i++)
        {
            var sb = new StringBuilder();
            for (int k = rng.Next(1, 14); k > 0; k--) sb.Append(s_atoms[rng.Next(s_atoms.Length)]);
            string text = sb.ToString();
            int[] expected = [.. reference.Encode(text).Select(id => (int)id)];
            int[] actual = ours.Encode(text);
            Assert.True(expected.SequenceEqual(actual), $"text {Escape(text)}: HF [{string.Join(",", expected)}] ours [{string.Join(",", actual)}]");
            // Tokenizers.DotNet decodes with special tokens skipped.
            Assert.Equal(reference.Decode([.. expected.Select(id => (uint)id)]), ours.Decode(actual, skipSpecial: true));
        }
    }

    private static string Escape(string s) => string.Concat(s.Select(c => c is >= ' ' and < '\u007f' ? c.ToString() : $"\\u{(int)c:x4}"));
}
