using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>A hostile tokenizer.json is refused at load with one line naming the file and the problem; a catastrophic regex times out.</summary>
public class TokenizerFileValidationTests
{
    const string ByteLevel = """{ "type": "ByteLevel", "add_prefix_space": false, "use_regex": true }""";

    static string Tokenizer(string model, string preTokenizer = ByteLevel, string added = "[]") =>
        $$"""{ "version": "1.0", "added_tokens": {{added}}, "normalizer": null, "pre_tokenizer": {{preTokenizer}}, "decoder": { "type": "ByteLevel" }, "model": {{model}} }""";

    static string Bpe(string vocab, string merges = "[]") => $$"""{ "type": "BPE", "vocab": {{vocab}}, "merges": {{merges}} }""";

    public static TheoryData<string, string, string> Hostile() => new()
    {
        { "malformed JSON", """{ "model": { "type": "BPE", "vocab": {""", "" },
        { "unknown merge", Tokenizer(Bpe("""{ "a": 0, "b": 1, "ab": 2 }""", """["a z"]""")), "missing from the vocabulary" },
        { "merge not a pair", Tokenizer(Bpe("""{ "a": 0, "b": 1, "ab": 2 }""", """[["a"]]""")), "expected" },
        { "negative id", Tokenizer(Bpe("""{ "a": -1, "b": 1 }""")), "id -1" },
        { "2^31 id", Tokenizer(Bpe("""{ "a": 2147483648, "b": 1 }""")), "id 2147483648" },
        { "huge id", Tokenizer(Bpe("""{ "a": 1073741824, "b": 1 }""")), "id 1073741824" },
        { "string id", Tokenizer(Bpe("""{ "a": "zero", "b": 1 }""")), "id \"zero\"" },
        { "added token id", Tokenizer(Bpe("""{ "a": 0, "b": 1 }"""), added: """[{ "id": -5, "content": "<x>", "special": true }]"""), "id -5" },
        { "unsupported model", Tokenizer("""{ "type": "WordPiece", "vocab": { "a": 0 } }"""), "WordPiece" },
        { "empty vocabulary", Tokenizer(Bpe("{}")), "vocabulary is empty" },
        { "no byte token", Tokenizer(Bpe("""{ "hello": 0 }""")), "none of the 256 byte-level tokens" },
        { "missing model", """{ "pre_tokenizer": null }""", "missing" },
        { "bad regex", Tokenizer(Bpe("""{ "a": 0 }"""), """{ "type": "Split", "pattern": { "Regex": "(" }, "behavior": "Isolated" }"""), "regex" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void AHostileTokenizerIsOneLineNamingTheFileAndTheProblem(string name, string json, string problem)
    {
        using var tmp = new TempDir();
        var path = tmp.File("tokenizer.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(name.Length > 0);
    }

    [Fact]
    public void ACatastrophicPreTokenizerRegexTimesOutNamingThePattern()
    {
        using var tmp = new TempDir();
        var path = tmp.File("tokenizer.json");
        var split = """{ "type": "Sequence", "pretokenizers": [ { "type": "Split", "pattern": { "Regex": "(a+)+$" }, "behavior": "Isolated", "invert": false }, { "type": "ByteLevel", "add_prefix_space": false, "use_regex": false } ] }""";
        File.WriteAllText(path, Tokenizer(Bpe("""{ "a": 0, "!": 1 }"""), split));
        var tokenizer = BpeTokenizer.Load(path, 0, TimeSpan.FromMilliseconds(200));
        Assert.Equal([0, 0, 1], tokenizer.Encode("aa!"));   // short texts are fine
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<PreTokenizerTimeoutException>(() => tokenizer.Encode(new string('a', 64) + "!"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Contains("(a+)+$", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheDefaultRegexTimeoutIsAFewSeconds()
    {
        Assert.InRange(SplitPattern.DefaultMatchTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
    }
}
