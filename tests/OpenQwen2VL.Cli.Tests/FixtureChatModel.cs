using System.Globalization;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>The reference fixture VLM as `oqvl chat` and `oqvl generate` take it in the chat tests, and generate's answer.</summary>
internal static class FixtureChatModel
{
    public const int MaxTokens = 5;

    public static string[] Flags()
    {
        int pool = ReferenceFixtures.PoolSizes()[0];
        return ["--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("siglip"), "--projector", ReferenceFixtures.File("projector.safetensors"),
            "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--prompt-format", "plain", "--visual-tokens", (pool * pool).ToString(CultureInfo.InvariantCulture)];
    }

    /// <summary>`oqvl generate`'s output for a prompt and an image (greedy, <see cref="MaxTokens"/> new tokens).</summary>
    public static string Generate(string prompt, string image)
    {
        var (rc, output, error) = CliInvocation.Invoke(["generate", .. Flags(), "--image", image, "--prompt", prompt, "--max-new-tokens", MaxTokens.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(rc == 0, error);
        return output;
    }
}
