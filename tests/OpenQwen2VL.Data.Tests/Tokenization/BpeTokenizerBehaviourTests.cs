using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Tokenization;

public class BpeTokenizerBehaviourTests
{
    private static BpeTokenizer Load(int cache = BpeTokenizer.DefaultWordCacheCapacity) =>
        BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json"), cache);

    [Fact]
    public void AddedSpecialTokenGetsNextIdAndIsMatchedLiterally()
    {
        var tok = Load();
        int before = tok.VocabSize;
        string fp = tok.Fingerprint;
        int[] ids = tok.AddSpecialTokens("<|new_token|>", "<s>");
        Assert.Equal(before, ids[0]);
        Assert.Equal(tok.TokenToId("<s>"), ids[1]);
        Assert.Equal(before + 1, tok.VocabSize);
        Assert.NotEqual(fp, tok.Fingerprint);
        Assert.Equal([.. tok.Encode("a cat"), ids[0], .. tok.Encode(" here")], tok.Encode("a cat<|new_token|> here"));
        Assert.Equal("a cat<|new_token|> here", tok.Decode(tok.Encode("a cat<|new_token|> here")));
        Assert.Equal(tok.Decode(tok.Encode("a cat here")), tok.Decode(tok.Encode("a cat<|new_token|> here"), skipSpecial: true));
        Assert.Equal(ids, tok.AddSpecialTokens("<|new_token|>", "<s>"));  // idempotent
    }

    [Fact]
    public void LongestAddedTokenWinsAtTheLeftmostPosition()
    {
        var tok = Load();
        var ids = tok.AddSpecialTokens("<ab>", "<ab>cd");
        Assert.Equal([.. tok.Encode("x"), ids[1]], tok.Encode("x<ab>cd"));
        Assert.Equal([ids[0], .. tok.Encode("c")], tok.Encode("<ab>c"));
    }

    [Fact]
    public void FingerprintIsStableAcrossLoads()
    {
        Assert.Equal(Load().Fingerprint, Load().Fingerprint);
        Assert.Matches("^[0-9a-f]{64}$", Load().Fingerprint);
    }

    [Fact]
    public void ParallelEncodingWithATinyCacheEqualsSequentialUncached()
    {
        var texts = Enumerable.Range(0, 400).Select(i => $"A photo of {i % 37} red circles, on a blue background #{i}. It's nice\n").ToArray();
        var uncached = Load(cache: 0);
        var expected = texts.Select(uncached.Encode).ToArray();
        var shared = Load(cache: 16);  // evictions never happen: the cache just stops growing
        var actual = new int[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => actual[i] = shared.Encode(texts[i]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void EncodeDecodeRoundTripsNfcText()
    {
        var tok = Load();
        foreach (var text in new[] { "A cat sitting on a mat.", "tabs\tand\r\nnewlines  ", "東京 🙂 Привет <|im_end|>" })
            Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }
}
