using System.Text;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>A LLaVA SFT annotation file (JSON array or JSON lines) read into tokenized chat samples: input = kept + skipped.</summary>
public sealed class LlavaJsonTarget(FuzzEnvironment env) : IFuzzTarget
{
    private readonly Lazy<ChatMlPromptBuilder> _builder = new(() => new ChatMlPromptBuilder(LoadTokenizer(env)));

    public string Name => "llava-json";
    public string Description => "LLaVA SFT annotations (JSON array or lines): records, conversations, image fields, cut to the context";

    internal static BpeTokenizer LoadTokenizer(FuzzEnvironment env)
    {
        var tok = BpeTokenizer.Load(env.Reference("tokenizer.json"));
        tok.AddSpecialTokens([.. MultimodalTokens.AddedSpecialTokens]);
        return tok;
    }

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        string path = scratch.Write("sft.json", input);
        var reader = new LlavaSftReader(_builder.Value, Path.Combine(scratch.Folder, "images"), contextLength: 256, visualTokensPerImage: 4);
        var stats = new SampleStats();
        ExpectedRefusal.Guard(() =>
        {
            foreach (var sample in reader.Read(path, stats)) _ = sample;
            if (stats.Input != stats.Kept + stats.SkippedTotal)
                throw new InvariantBrokenException($"input {stats.Input} != kept {stats.Kept} + skipped {stats.SkippedTotal}");
        });
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment _)
    {
        yield return ("array.json", Encoding.UTF8.GetBytes("""
            [{"id":"1","image":"a.jpg","conversations":[{"from":"human","value":"<image>\nWhat is it?"},{"from":"gpt","value":"A red square."}]},
             {"id":"2","conversations":[{"from":"human","value":"Hi"},{"from":"gpt","value":"Hello!"},{"from":"human","value":"Count to 3"},{"from":"gpt","value":"1 2 3"}]},
             {"id":"3","image":["a.jpg","b.png"],"conversations":[{"from":"human","value":"<image><image> same?"},{"from":"gpt","value":"no"}]}]
            """));
        yield return ("lines.jsonl", Encoding.UTF8.GetBytes(
            "{\"id\":\"1\",\"image\":\"x/y.jpg\",\"conversations\":[{\"from\":\"human\",\"value\":\"<image>\\nQ\"},{\"from\":\"gpt\",\"value\":\"A\"}]}\n" +
            "{\"id\":\"2\",\"conversations\":[{\"from\":\"human\",\"value\":\"text only\"},{\"from\":\"gpt\",\"value\":\"ok\"}]}\n"));
    }
}
