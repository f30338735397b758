using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// Issue 14: `oqvl chat` in a real pseudo-terminal (tmux, its own socket in a temporary folder): an image and two turns;
/// each streamed answer appears on the screen and equals `oqvl generate`'s greedy output for the conversation so far.
/// A missing tmux fails with the fix (CI's .ci/run installs it).
/// </summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class ChatTerminalTests
{
    private const int MaxTokens = FixtureChatModel.MaxTokens;

    private static string[] ModelFlags() => FixtureChatModel.Flags();

    private static string Generate(string prompt, string image) => FixtureChatModel.Generate(prompt, image).TrimEnd('\n');

    private static string Tmux(string socket, params string[] args)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-S");
        start.ArgumentList.Add(socket);
        foreach (var a in args) start.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(start)!; }
        catch (Win32Exception) { Assert.Fail("tmux is not installed: apt-get install tmux (CI's .ci/run does)"); throw; }
        using (process)
        {
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"tmux {string.Join(' ', args)}: {error}");
            return output;
        }
    }

    /// <summary>The screen (wrapped lines joined) once <paramref name="done"/> holds, within 3 minutes.</summary>
    private static string ScreenWhen(string socket, Func<string, bool> done, string waitingFor)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string screen = Tmux(socket, "capture-pane", "-p", "-J", "-t", "chat");
            if (done(screen)) return screen;
            if (clock.Elapsed > TimeSpan.FromMinutes(3)) Assert.Fail($"no {waitingFor} on the screen after 3 minutes:\n{screen}");
            Thread.Sleep(100);
        }
    }

    [Fact]
    public void TwoTurnsWithAnImageStreamToTheTerminalAsTheLibraryAnswers()
    {
        string image = ReferenceFixtures.File("images", "img0.jpg");
        string first = Generate("Describe the image.", image);
        string second = Generate($"Describe the image.\n{first}\nAnd then?", image);
        Assert.False(string.IsNullOrWhiteSpace(first) || string.IsNullOrWhiteSpace(second), "the fixture's answers are empty: nothing to see on the screen");

        using var dir = new TempDir();
        string socket = dir.File("tmux.sock");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        string[] command = [dotnet, Path.Combine(AppContext.BaseDirectory, "oqvl.dll"), "chat", .. ModelFlags(), "--max-new-tokens", MaxTokens.ToString(CultureInfo.InvariantCulture)];
        // A wide pane so that no answer wraps; the shell quoting is tmux's single command string.
        Tmux(socket, "new-session", "-d", "-s", "chat", "-x", "300", "-y", "50", string.Join(' ', command.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'")));
        try
        {
            ScreenWhen(socket, s => s.Contains("> ", StringComparison.Ordinal), "prompt");
            Tmux(socket, "send-keys", "-t", "chat", "-l", $"/image {image}");
            Tmux(socket, "send-keys", "-t", "chat", "Enter");
            ScreenWhen(socket, s => s.Contains("attached", StringComparison.Ordinal), "note that the image is attached");
            Tmux(socket, "send-keys", "-t", "chat", "-l", "Describe the image.");
            Tmux(socket, "send-keys", "-t", "chat", "Enter");
            ScreenWhen(socket, s => s.Contains("> Describe the image.\n" + first + "\n> ", StringComparison.Ordinal), "first answer");
            Tmux(socket, "send-keys", "-t", "chat", "-l", "And then?");
            Tmux(socket, "send-keys", "-t", "chat", "Enter");
            ScreenWhen(socket, s => s.Contains("> And then?\n" + second + "\n> ", StringComparison.Ordinal), "second answer");
            Tmux(socket, "send-keys", "-t", "chat", "-l", "/exit");
            Tmux(socket, "send-keys", "-t", "chat", "Enter");
        }
        finally
        {
            try { Tmux(socket, "kill-server"); } catch (Xunit.Sdk.XunitException) { } // already gone with its only session
        }
    }
}
