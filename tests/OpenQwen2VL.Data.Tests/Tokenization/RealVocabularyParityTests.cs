using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>
/// Our tokenizer against HF tokenizers (Rust, through Tokenizers.DotNet) on Qwen's real 151,669-token tokenizer.json
/// (see <see cref="RealTokenizer"/>; CI installs it), on generated hard texts: every id and every decode must agree.
/// </summary>
[Trait("Category", "Parity")]
public class RealVocabularyParityTests
{
    [Fact]
    public void HardTextsEncodeAndDecodeLikeHuggingFaceOnTheRealVocabulary()
    {
        string path = RealTokenizer.Require();
        var ours = BpeTokenizer.Load(path, wordCacheCapacity: 0);   // the BPE itself on every word
        var cached = BpeTokenizer.Load(path);
        using var reference = new Tokenizers.DotNet.Tokenizer(path);
        Assert.Equal(151_669, ours.VocabSize);
        var added = ours.AddedTokens.Select(t => t.Content).ToList();
        var failures = new List<string>();
        int texts = 0;
        foreach (string text in HardTexts.Generate(3000, seed: 17, added))
        {
            texts++;
            int[] expected = [.. reference.Encode(text).Select(id => (int)id)];
            int[] actual = ours.Encode(text);
            if (!expected.SequenceEqual(actual))
                failures.Add($"text {Escape(text)}: HF [{string.Join(",", expected)}] ours [{string.Join(",", actual)}]");
            else if (!cached.Encode(text).SequenceEqual(expected))
                failures.Add($"text {Escape(text)}: the word cache changed the ids");
            else if (reference.Decode([.. expected.Select(id => (uint)id)]) != ours.Decode(actual, skipSpecial: true))
                failures.Add($"text {Escape(text)}: decodes differ");   // Tokenizers.DotNet decodes with special tokens skipped
        }
        Assert.Equal(3000, texts);
        Assert.True(failures.Count == 0, $"{failures.Count} of {texts} texts differ from HF; first: {string.Join("\n", failures.Take(5))}");
    }

    private static string Escape(string s) => string.Concat(s.Select(c => c is >= ' ' and < '\u007f' ? c.ToString() : $"\\u{(int)c:x4}"));
}
