using System.Text.Json;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>The tokenizer against HF tokenizers' own output (tokenizer_cases.json from make_fixtures.py).</summary>
[Trait("Category", "Parity")]
public class BpeTokenizerParityTests
{
    private static readonly Lazy<BpeTokenizer> s_tokenizer = new(() => BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json")));

    private static JsonElement Cases() =>
        JsonDocument.Parse(File.ReadAllText(ReferenceFixtures.File("tokenizer_cases.json"))).RootElement;

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Cases().GetProperty("cases").GetArrayLength(); i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void EncodeMatchesHuggingFace(int index)
    {
        var c = Cases().GetProperty("cases")[index];
        int[] expected = [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
        Assert.Equal(expected, s_tokenizer.Value.Encode(c.GetProperty("text").GetString()!));
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void DecodeWithSpecialsMatchesHuggingFace(int index)
    {
        var c = Cases().GetProperty("cases")[index];
        int[] ids = [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
        Assert.Equal(c.GetProperty("decoded").GetString(), s_tokenizer.Value.Decode(ids));
    }

    [Fact]
    public void VocabularySizeAndSpecialIdsMatch()
    {
        var root = Cases();
        var tok = s_tokenizer.Value;
        Assert.Equal(root.GetProperty("vocab_size").GetInt32(), tok.VocabSize);
        foreach (var s in root.GetProperty("special_ids").EnumerateObject())
        {
            Assert.Equal(s.Value.GetInt32(), tok.TokenToId(s.Name));
            Assert.Equal(s.Name, tok.IdToToken(s.Value.GetInt32()));
            Assert.True(tok.IsSpecial(s.Value.GetInt32()));
            Assert.Equal(s.Value.GetInt32(), tok.SpecialTokens[s.Name]);
        }
    }

    [Fact]
    public void SkippingSpecialsDropsExactlyTheSpecialTokens()
    {
        var tok = s_tokenizer.Value;
        foreach (var c in Cases().GetProperty("cases").EnumerateArray())
        {
            int[] ids = [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
            int[] plain = [.. ids.Where(id => !tok.IsSpecial(id))];
            Assert.Equal(tok.Decode(plain), tok.Decode(ids, skipSpecial: true));
        }
    }
}
