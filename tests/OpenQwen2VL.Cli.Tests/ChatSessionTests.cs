using System.CommandLine;
using System.Globalization;
using OpenQwen2VL.Cli.Chat;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// `oqvl chat` on the fixture model: with an image and two turns, each answer equals `oqvl generate`'s greedy output for
/// the conversation so far (a plain model's conversation is its messages one after another); /reset forgets it.
/// </summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class ChatSessionTests
{
    private const int MaxTokens = FixtureChatModel.MaxTokens;

    private static string[] ModelFlags() => FixtureChatModel.Flags();

    private static string Generate(string prompt, string image) => FixtureChatModel.Generate(prompt, image);

    [Fact]
    public void TwoTurnsWithAnImageAnswerAsGenerateDoes()
    {
        var model = new ModelOptions();
        var command = new Command("chat");
        model.AddTo(command);
        using var loaded = model.Load(command.Parse(ModelFlags()), TextWriter.Null);
        var image = ReferenceFixtures.File("images", "img0.jpg");
        var output = new StringWriter();
        var notes = new StringWriter();
        new ChatSession(loaded, PromptFormatChoice.Plain, GenerationOptions.Greedy(MaxTokens), output, notes)
            .Run(new StringReader($"/image {image}\nDescribe the image.\nAnd then?\n/reset\nDescribe the image.\n/exit\nnever read\n"));

        string first = Generate("Describe the image.", image);
        string second = Generate($"Describe the image.\n{first.TrimEnd('\n')}\nAnd then?", image);
        // After /reset the image is gone: the same text alone.
        var (rc, third, _) = CliInvocation.Invoke(["generate", .. ModelFlags(), "--prompt", "Describe the image.", "--max-new-tokens", MaxTokens.ToString(CultureInfo.InvariantCulture)]);
        Assert.Equal(0, rc);
        Assert.Equal(first + second + third, output.ToString());
        Assert.Contains("attached", notes.ToString());
        Assert.Contains("cleared", notes.ToString());
    }
}
