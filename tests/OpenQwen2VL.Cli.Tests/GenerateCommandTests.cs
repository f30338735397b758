using System.CommandLine;
using System.Text.Json;
using OpenQwen2VL.Cli;
using OpenQwen2VL.Cli.Commands;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Tests.Shards;

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
                ? ["--model", ReferenceFixtures.File(PrismaticCheckpoint.FileName)]
                : ["--projector", ReferenceFixtures.File("projector.safetensors")];
            int pool = ReferenceFixtures.PoolSizes()[0];
            var (rc, output, error) = Invoke([
                "generate", "--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("siglip"), .. weights,
                "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--image", ReferenceFixtures.File("images", images[0]),
                // Plain: the fixture's reference prompt (a released .pt otherwise defaults to its chat format).
                "--prompt", "<s><image>\n", "--prompt-format", "plain", "--visual-tokens", (pool * pool).ToString(System.Globalization.CultureInfo.InvariantCulture),
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
    public void APromptPastMaxPositionEmbeddingsIsRefusedInOneLine()
    {
        // Issue 16: the fixture LM with a config whose max_position_embeddings the image tokens alone exceed.
        using var dir = new TempDir();
        var llm = Path.Combine(dir.Path, "qwen2");
        Directory.CreateDirectory(llm);
        File.Copy(ReferenceFixtures.File("qwen2", "model.safetensors"), Path.Combine(llm, "model.safetensors"));
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(ReferenceFixtures.File("qwen2", "config.json")))!;
        config["max_position_embeddings"] = 4;
        File.WriteAllText(Path.Combine(llm, "config.json"), config.ToJsonString());
        var images = JsonSerializer.Deserialize<string[]>(ReferenceFixtures.Metadata("preprocess_case.safetensors")["files"])!;
        int pool = ReferenceFixtures.PoolSizes()[0];
        var (rc, _, error) = Invoke([
            "generate", "--llm", llm, "--vision", ReferenceFixtures.File("siglip"), "--projector", ReferenceFixtures.File("projector.safetensors"),
            "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--image", ReferenceFixtures.File("images", images[0]),
            "--prompt", "<s><image>\n", "--visual-tokens", (pool * pool).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ]);
        Assert.Equal(FailureReport.UserError, rc);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("max_position_embeddings", StringComparison.Ordinal));
        Assert.Contains("max_position_embeddings of 4", line);
    }

    [Fact]
    public void ChatPromptIsChatMlWithOpenAssistantTurn()
    {
        var tokenizer = OpenQwen2VL.Data.Tokenization.BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json"));
        var ids = GenerateCommand.PromptIds(tokenizer, "What is this?", images: 1, PromptFormatChoice.Chatml);
        var text = tokenizer.Decode(ids.Where(i => i >= 0).Select(i => (int)i).ToArray());
        Assert.Equal(1, ids.Count(i => i == OpenQwen2VL.Data.Prompts.MultimodalTokens.ImageMarker));
        Assert.StartsWith("<|im_start|>system\n", text);
        Assert.EndsWith("<|im_start|>user\n\nWhat is this?<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("chatml")]
    public void ReleasedCheckpointDefaultsToItsOwnFormat_AndTheFlagOverrides(string? format)
    {
        var tokenizer = OpenQwen2VL.Data.Prompts.MultimodalTokens.LoadTokenizer(ReferenceFixtures.File("tokenizer.json"));
        string[] flag = format is null ? [] : ["--prompt-format", format];
        var images = JsonSerializer.Deserialize<string[]>(ReferenceFixtures.Metadata("preprocess_case.safetensors")["files"])!;
        var (rc, output, error) = Invoke([
            "generate", "--model", ReferenceFixtures.File(PrismaticCheckpoint.FileName), "--llm", ReferenceFixtures.File("qwen2"),
            "--vision", ReferenceFixtures.File("siglip"), "--tokenizer", ReferenceFixtures.File("tokenizer.json"),
            "--image", ReferenceFixtures.File("images", images[0]), "--prompt", "<image>\nWhat is this?", "--max-new-tokens", "1", "--show-ids", .. flag,
        ]);
        Assert.True(rc == 0, error);
        var expected = format is null
            ? new OpenQwen2VL.Data.Prompts.OpenQwen2VLPromptBuilder(tokenizer).PromptIds([new(OpenQwen2VL.Data.Prompts.ChatRole.User, "<image>\nWhat is this?")]).Select(i => (long)i)
            : GenerateCommand.PromptIds(tokenizer, "<image>\nWhat is this?", 1, PromptFormatChoice.Chatml);
        var ids = IdsLine(output, "prompt ids");
        Assert.Equal(expected, ids);
        // <s> leads the released format, once; ChatML has none.
        Assert.Equal(format is null ? 1 : 0, ids.Count(i => i == tokenizer.RequireId("<s>")));
        Assert.Equal(format is null, ids[0] == tokenizer.RequireId("<s>"));
    }

    [Fact]
    public void OpenQwen2VLPromptIsTheReleasedTemplate()
    {
        var tokenizer = OpenQwen2VL.Data.Prompts.MultimodalTokens.LoadTokenizer(ReferenceFixtures.File("tokenizer.json"));
        var ids = GenerateCommand.PromptIds(tokenizer, "What is this?", images: 1, PromptFormatChoice.OpenQwen2vl);
        // The reference's text for this user turn; the "\n" after the first-turn image is dropped as its tokenizer_image_token does.
        var head = tokenizer.Encode("<s><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n");
        var tail = tokenizer.Encode("\nWhat is this?<|im_end|>assistant\n");
        Assert.Equal([.. head.Select(i => (long)i), OpenQwen2VL.Data.Prompts.MultimodalTokens.ImageMarker, .. tail[1..].Select(i => (long)i)], ids);
    }

    [Fact]
    public void PlainPromptStartsWithBosOnce()
    {
        var tokenizer = OpenQwen2VL.Data.Tokenization.BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json"));
        int bos = tokenizer.RequireId("<s>");
        var added = GenerateCommand.PromptIds(tokenizer, "<image>\nA photo of", images: 1, PromptFormatChoice.Plain);
        var given = GenerateCommand.PromptIds(tokenizer, "<s><image>\nA photo of", images: 1, PromptFormatChoice.Plain);
        Assert.Equal(given, added);
        Assert.Equal(bos, added[0]);
        Assert.Equal(1, added.Count(i => i == bos));
    }

    [Fact]
    public void BadPathsAreOneLineUserErrors()
    {
        string[] parts = ["--vision", ReferenceFixtures.File("siglip"), "--projector", ReferenceFixtures.File("projector.safetensors"), "--prompt", "hi"];
        Assert.Contains("/nonexistent/llm", CliInvocation.UserError(["generate", "--llm", "/nonexistent/llm", .. parts]));
        Assert.Contains("/nonexistent.jpg", CliInvocation.UserError(["generate", "--llm", ReferenceFixtures.File("qwen2"), .. parts, "--image", "/nonexistent.jpg"]));
        // A folder that is not a SigLIP checkpoint: the loader's error becomes a user error too.
        CliInvocation.UserError("generate", "--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("qwen2"),
            "--projector", ReferenceFixtures.File("projector.safetensors"), "--prompt", "hi");
        // The released checkpoint holds weights only: without --llm the one line says what to add.
        Assert.Contains("--llm", CliInvocation.UserError("generate", "--model", ReferenceFixtures.File(PrismaticCheckpoint.FileName), "--prompt", "hi"));
        // An HF LLM folder is not a VLM.
        Assert.Contains("--llm", CliInvocation.UserError("generate", "--model", ReferenceFixtures.File("qwen2"), "--prompt", "hi"));
    }

    private static string[] Fixture(params string[] extra)
    {
        var images = JsonSerializer.Deserialize<string[]>(ReferenceFixtures.Metadata("preprocess_case.safetensors")["files"])!;
        int pool = ReferenceFixtures.PoolSizes()[0];
        return [
            "generate", "--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("siglip"),
            "--projector", ReferenceFixtures.File("projector.safetensors"), "--tokenizer", ReferenceFixtures.File("tokenizer.json"),
            "--image", ReferenceFixtures.File("images", images[0]), "--prompt", "<s><image>\n",
            "--visual-tokens", (pool * pool).ToString(System.Globalization.CultureInfo.InvariantCulture), "--max-new-tokens", "6", "--show-ids", .. extra,
        ];
    }

    [Theory]
    [InlineData("--temperature 0 --sample", "--temperature 0: must be > 0")]
    [InlineData("--temperature -1 --sample", "--temperature -1: must be > 0")]
    [InlineData("--top-p 0 --sample", "--top-p 0: must be in (0, 1]")]
    [InlineData("--top-p 1.5 --sample", "--top-p 1.5: must be in (0, 1]")]
    [InlineData("--top-k -1 --sample", "--top-k -1: must be >= 0")]
    [InlineData("--repetition-penalty 0", "--repetition-penalty 0: must be > 0")]
    [InlineData("--temperature 0.7", "--temperature applies to sampling only: add --sample")]
    [InlineData("--top-k 3", "--top-k applies to sampling only: add --sample")]
    public void SamplingOptionsOutsideTheirRangeAreOneLineUserErrors(string options, string expected) =>
        Assert.Contains(expected, CliInvocation.UserError(["generate", "--llm", "/nonexistent/llm", "--prompt", "hi", .. options.Split(' ')]));

    [Fact]
    public void AnEmptyStopStringIsAUserError() =>
        Assert.Contains("--stop: an empty stop string", CliInvocation.UserError("generate", "--llm", "/nonexistent/llm", "--prompt", "hi", "--stop", ""));

    [Fact]
    public void SeededSamplingRepeatsAndTopKOneIsGreedy()
    {
        var greedy = Invoke(Fixture());
        var sampled = Invoke(Fixture("--sample", "--temperature", "1.3", "--top-p", "0.9", "--seed", "4"));
        var again = Invoke(Fixture("--sample", "--temperature", "1.3", "--top-p", "0.9", "--seed", "4"));
        var topOne = Invoke(Fixture("--sample", "--top-k", "1", "--seed", "9"));
        Assert.All(new[] { greedy, sampled, again, topOne }, r => Assert.Equal(0, r.Rc));
        Assert.Equal(IdsLine(sampled.Out, "generated ids"), IdsLine(again.Out, "generated ids"));
        Assert.Equal(IdsLine(greedy.Out, "generated ids"), IdsLine(topOne.Out, "generated ids"));
    }
}
