using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// Issue 14 through real clients: the official <c>openai</c> npm package (tests/node, pinned by its package-lock.json;
/// .ci/run installs it with <c>npm ci</c>) and curl get <c>oqvl generate</c>'s greedy answer, plain and streamed, and
/// the client reads the server's refusals as OpenAI errors. A missing node, package or curl fails with the fix.
/// </summary>
public sealed partial class ServeCommandTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "OpenQwen2VL.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no OpenQwen2VL.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>Runs a tool to its end (2 minutes at most); its exit code, stdout and stderr.</summary>
    private static async Task<(int Code, string Output, string Error)> Run(string tool, string install, string? input, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(start)!; }
        catch (Win32Exception) { Assert.Fail($"{tool} is not installed: {install}"); throw; }
        using (process)
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input);
                process.StandardInput.Close();
            }
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            try { await process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{tool} {string.Join(' ', args.Take(2))} took over 2 minutes");
            }
            return (process.ExitCode, await output, await error);
        }
    }

    [Fact]
    public async Task TheOfficialOpenAiClientGetsGeneratesAnswer()
    {
        const string prompt = "What is in this picture?";
        var (expected, tokens) = Generate(prompt, Image("img0.jpg"));
        string clientDir = Path.Combine(RepositoryRoot(), "tests", "node");
        const string install = "run `npm ci --prefix tests/node` (CI's .ci/run does)";
        Assert.True(File.Exists(Path.Combine(clientDir, "node_modules", "openai", "package.json")), $"the openai npm package is missing: {install}");

        var (code, output, error) = await Run("node", "install Node.js, then " + install, null, clientDir,
            "openai-client.mjs", new Uri(server.Client.BaseAddress!, "/v1").ToString(), Key, Image("img0.jpg"), prompt, MaxTokens.ToString(CultureInfo.InvariantCulture));
        Assert.True(code == 0, $"node exited {code}: {error}");
        var result = JsonNode.Parse(output)!;
        Assert.Equal(expected, (string?)result["plain"]);
        Assert.Equal(expected, (string?)result["streamed"]);
        Assert.Equal(tokens, (int)result["usage"]!["completion_tokens"]!);
        Assert.Equal((string?)result["plainFinish"], (string?)result["streamFinish"]);
        Assert.Equal(["qwen2"], result["models"]!.AsArray().Select(m => (string?)m));
        Assert.Equal(404, (int)result["unknownModel"]!["status"]!);
        Assert.Equal("model_not_found", (string?)result["unknownModel"]!["code"]);
        Assert.Equal("NotFoundError", (string?)result["unknownModel"]!["kind"]);
        Assert.Equal(401, (int)result["wrongKey"]!["status"]!);
        Assert.Equal("AuthenticationError", (string?)result["wrongKey"]!["kind"]);
    }

    [Fact]
    public async Task CurlGetsGeneratesAnswerPlainAndStreamed()
    {
        const string prompt = "Describe the colours.";
        var (expected, _) = Generate(prompt, Image("img1.png"));
        var image = File.ReadAllBytes(Image("img1.png"));
        string url = new Uri(server.Client.BaseAddress!, "/v1/chat/completions").ToString();
        string[] curl = ["-sS", "-N", "-w", "\n%{http_code}", "-H", "Content-Type: application/json", "-H", $"Authorization: Bearer {Key}", "--data-binary", "@-", url];
        (string Body, int Status) Split(string output)
        {
            int at = output.LastIndexOf('\n');
            return (output[..at], int.Parse(output[(at + 1)..], CultureInfo.InvariantCulture));
        }
        foreach (bool stream in new[] { false, true })
        {
            string body = Body(prompt, [image], stream).ToJsonString();
            var (code, output, error) = await Run("curl", "apt-get install curl", body, Path.GetTempPath(), curl);
            Assert.True(code == 0, $"curl exited {code}: {error}");
            var (text, status) = Split(output);
            Assert.Equal(200, status);
            Assert.Equal(expected, stream ? StreamedText(text) : (string?)JsonNode.Parse(text)!["choices"]![0]!["message"]!["content"]);
        }
        // A refusal reads the same through curl: status and OpenAI error JSON.
        var (_, refused, _) = await Run("curl", "apt-get install curl", "{not json", Path.GetTempPath(), curl);
        var (errorBody, errorStatus) = Split(refused);
        Assert.Equal((int)HttpStatusCode.BadRequest, errorStatus);
        Assert.Equal("invalid_json", (string?)JsonNode.Parse(errorBody)!["error"]!["code"]);
    }
}
