using System.CommandLine;
using System.Text.Json;
using OpenQwen2VL.Cli;
using OpenQwen2VL.Cli.Commands;
using OpenQwen2VL.Model.Checkpoints;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>`oqvl generate` end to end on the fixture checkpoints and images, through the CLI parser.</summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class GenerateCommandTests
{
    private static (int Rc, string Out, string Err) Invoke(params string[] args) => CliInvocation.Invoke(args);

    private static long[] IdsLine(string output, string label) =>
        JsonSerializer.Deserialize<long[]>(output.Split('\n').Single(l => l.StartsWith(label + ": ", StringComparison.Ordinal))[(label.Length + 2)..])!;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GreedyIdsFromImageFileEqualReference(bool prismatic)
    {
        {
            var promptIds = ReferenceFixtures.ReadInt64("vlm_case.safetensors", "gen_prompt");
            var expected = ReferenceFixtures.ReadInt64("vlm_case.safetensors", "gen_greedy");
            // gen_prompt is `<s> IMG \n` with image 0 (fixture README); the same text through our tokenizer.
            var images = JsonSerializer.Deserialize<string[]>(ReferenceFixtures.Metadata("preprocess_case.safetensors")["files"])!;
            string[] weights = prismatic
                ? ["--prismatic", ReferenceFixtures.File(PrismaticCheckpoint.FileName)]
                : ["--projector", ReferenceFixtures.File("projector.safetensors")];
            var (rc, output, error) = Invoke([
                "generate", "--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("siglip"), .. weights,
                "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--image", ReferenceFixtures.File("images", images[0]),
                "--prompt", "<s><image>\n", "--pool", ReferenceFixtures.PoolSizes()[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--max-new-tokens", expected.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), "--show-ids",
            ]);
            Assert.Equal(0, rc);
            Assert.Equal(promptIds, IdsLine(output, "prompt ids"));
            var generated = IdsLine(output, "generated ids");
            // The CLI stops after a stop token (included); the reference ran a fixed number of steps.
            Assert.Equal(expected.Take(generated.Length), generated);
            if (generated.Length < expected.Length)
            {
                var tokenizer = OpenQwen2VL.Data.Tokenization.BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json"));
                var config = OpenQwen2VL.Model.Qwen2.Qwen2Config.Load(ReferenceFixtures.File("qwen2"));
                var stops = config.EosTokenIds.Select(i => (long)i).Append(tokenizer.RequireId("<|im_end|>")).Append(tokenizer.RequireId("<|endoftext|>"));
                Assert.Contains(generated[^1], stops);
            }
            Assert.Contains("loaded", error);
        }
    }

    [Fact]
    public void ChatPromptIsChatMlWithOpenAssistantTurn()
    {
        var tokenizer = OpenQwen2VL.Data.Tokenization.BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json"));
        var ids = GenerateCommand.PromptIds(tokenizer, "What is this?", images: 1, chat: true);
        var text = tokenizer.Decode(ids.Where(i => i >= 0).Select(i => (int)i).ToArray());
        Assert.Equal(1, ids.Count(i => i == OpenQwen2VL.Data.Prompts.MultimodalTokens.ImageMarker));
        Assert.StartsWith("<|im_start|>system\n", text);
        Assert.EndsWith("<|im_start|>user\n\nWhat is this?<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void BadPathsAreOneLineUserErrors()
    {
        var args = new[] { "generate", "--llm", "/nonexistent/llm", "--vision", ReferenceFixtures.File("siglip"),
            "--projector", ReferenceFixtures.File("projector.safetensors"), "--prompt", "hi" };
        var e = Assert.Throws<CliUserException>(() => Invoke(args));
        Assert.Contains("/nonexistent/llm", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(2, Program.Main(args));

        Assert.Throws<CliUserException>(() => Invoke("generate", "--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("siglip"),
            "--projector", ReferenceFixtures.File("projector.safetensors"), "--image", "/nonexistent.jpg", "--prompt", "hi"));
        // A folder that is not a SigLIP checkpoint: the loader's error becomes a user error too.
        Assert.Throws<CliUserException>(() => Invoke("generate", "--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("qwen2"),
            "--projector", ReferenceFixtures.File("projector.safetensors"), "--prompt", "hi"));
    }
}
