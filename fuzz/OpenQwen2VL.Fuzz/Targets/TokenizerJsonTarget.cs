using System.Text;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>An HF tokenizer.json: model, vocabulary, merges, added tokens, pre-tokenizer regex; then a sentence encoded and decoded.</summary>
public sealed class TokenizerJsonTarget : IFuzzTarget
{
    const string Sample = "Hello world! It's 2024: 12,345 cats.\n<|im_start|>user <image> héllo 你好 🙂<|im_end|>";

    public string Name => "tokenizer-json";
    public string Description => "HF tokenizer.json (byte-level BPE): vocabulary, merges, added tokens, regex; encode and decode a sentence";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        string path = scratch.Write("tokenizer.json", input);
        ExpectedRefusal.Guard(() =>
        {
            var tok = BpeTokenizer.Load(path, wordCacheCapacity: 64, regexTimeout: TimeSpan.FromSeconds(1));
            int[] ids = tok.Encode(Sample);
            foreach (int id in ids)
                if (id < 0 || id >= tok.VocabSize) throw new InvariantBrokenException($"id {id} outside the vocabulary of {tok.VocabSize}");
            _ = tok.Decode(ids);
            _ = tok.Fingerprint;
        });
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        yield return ("reference-tokenizer.json", File.ReadAllBytes(env.Reference("tokenizer.json")));
        yield return ("small-tokenizer.json", Encoding.UTF8.GetBytes("""
            {"version":"1.0","added_tokens":[{"id":5,"content":"<|im_end|>","special":true,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false}],
             "normalizer":{"type":"NFC"},
             "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\s?\\p{L}+|\\s?\\p{N}|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]},
             "model":{"type":"BPE","dropout":null,"unk_token":null,"byte_fallback":false,"vocab":{"H":0,"e":1,"l":2,"o":3,"He":4},"merges":["H e"]}}
            """));
    }
}
