using System.Text.Json;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>
/// SigLIP's text ids against Python's sentencepiece driven the way HF's SiglipTokenizer drives it
/// (tests/Fixtures/siglip-tokenizer/make_cases.py: a Unigram nmt_nfkc model, 550 texts: captions in several scripts, digit runs
/// and the canonicalisation cases: punctuation, case, Unicode spaces and digits, emoji, unknown runs, literal special
/// tokens, empty and over-long texts).
/// </summary>
public class SiglipTextTokenizerTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "siglip-tokenizer");

    [Fact]
    public void IdsEqualSentencePieceDrivenAsHfDoes()
    {
        var tokenizer = SiglipTextTokenizer.Load(Path.Combine(Folder, "spiece.model"));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "cases.json")));
        int maxLength = doc.RootElement.GetProperty("max_length").GetInt32();
        var failures = new List<string>();
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            count++;
            string text = c.GetProperty("text").GetString()!;
            int[] expected = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] actual = tokenizer.Encode(text, maxLength);
            if (!expected.SequenceEqual(actual))
                failures.Add($"{JsonSerializer.Serialize(text)[..Math.Min(60, JsonSerializer.Serialize(text).Length)]}: expected [{string.Join(",", expected.Take(16))}] got [{string.Join(",", actual.Take(16))}]");
        }
        Assert.True(count >= 500, $"only {count} cases");
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} differ:\n" + string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void EveryTextGivesExactlyMaxLengthIdsEndingInEosOrPad()
    {
        var tokenizer = SiglipTextTokenizer.Load(Path.Combine(Folder, "spiece.model"));
        foreach (var text in new[] { "", "a dog", new string('x', 5000), string.Join(' ', Enumerable.Repeat("dog", 500)) })
        {
            var ids = tokenizer.Encode(text, 16);
            Assert.Equal(16, ids.Length);
            Assert.Equal(tokenizer.EndOfSentenceId, ids[^1]);
        }
    }

    [Fact]
    public void ANonModelFileIsOneLineBadInput()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "spiece.model");
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF, 0x01, 0x02]);
        var e = Assert.Throws<InvalidDataException>(() => SiglipTextTokenizer.Load(path));
        Assert.Contains(path, e.Message);
    }
}
