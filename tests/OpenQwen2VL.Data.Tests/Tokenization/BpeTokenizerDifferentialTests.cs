using System.Text;
using System.Text.Json.Nodes;
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
    public void RandomTextsEncodeAndDecodeLikeHuggingFace() => AssertAgreesWithHuggingFace(ReferenceFixtures.File("tokenizer.json"), 1500);

    /// <summary>The other layouts Load accepts, made from the fixture's tokenizer.json by editing one section.</summary>
    [Theory]
    [InlineData("gpt2_bytelevel_regex")]
    [InlineData("bytelevel_prefix_space")]
    [InlineData("legacy_string_merges")]
    [InlineData("normalizer_sequence_nfc")]
    public void OtherTokenizerLayoutsAgreeWithHuggingFace(string variant)
    {
        var json = JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("tokenizer.json")))!;
        switch (variant)
        {
            case "gpt2_bytelevel_regex":
                json["normalizer"] = null;
                json["pre_tokenizer"] = JsonNode.Parse("""{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}""");
                break;
            case "bytelevel_prefix_space":
                json["pre_tokenizer"] = JsonNode.Parse("""{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}""");
                break;
            case "legacy_string_merges":
                json["model"]!["merges"] = new JsonArray([.. json["model"]!["merges"]!.AsArray()
                    .Select(m => (JsonNode)JsonValue.Create($"{m![0]} {m[1]}")!)]);
                break;
            case "normalizer_sequence_nfc":
                json["normalizer"] = JsonNode.Parse("""{"type":"Sequence","normalizers":[{"type":"NFC"}]}""");
                break;
        }
        string path = Path.Combine(Directory.CreateTempSubdirectory("oqvl-tok-").FullName, "tokenizer.json");
        try
        {
            File.WriteAllText(path, json.ToJsonString());
            AssertAgreesWithHuggingFace(path, 300);
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); }
    }

    private static void AssertAgreesWithHuggingFace(string path, int texts)
    {
        var ours = BpeTokenizer.Load(path);
        using var reference = new Tokenizers.DotNet.Tokenizer(path);
        var rng = new Random(7);
        for (int i = 0; i < texts; i++)
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
