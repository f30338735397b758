using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Cli.Commands;
using OpenQwen2VL.Cli.Serving;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Images;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// Issue 14: `oqvl serve` on a loopback port with the fixture model. Plain and streamed answers equal `oqvl generate`'s
/// greedy output for the same prompt and image, concurrent requests batched together get their solo answers, and every
/// bad request gets its status and OpenAI error JSON (401 without the key).
/// </summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed partial class ServeCommandTests(ServeCommandTests.Server server) : IClassFixture<ServeCommandTests.Server>
{
    private const string Key = "test-key";
    private const int MaxTokens = 6;

    private static string[] ModelFlags()
    {
        int pool = ReferenceFixtures.PoolSizes()[0];
        return ["--llm", ReferenceFixtures.File("qwen2"), "--vision", ReferenceFixtures.File("siglip"), "--projector", ReferenceFixtures.File("projector.safetensors"),
            "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--prompt-format", "plain", "--visual-tokens", (pool * pool).ToString(CultureInfo.InvariantCulture)];
    }

    private static string Image(string name) => ReferenceFixtures.File("images", name);

    /// <summary>One server for the class: --api-key, batches of 4, and a small body and image byte limit (no flags for those).</summary>
    public sealed class Server : IDisposable
    {
        private readonly LoadedVlm loaded;
        private readonly ChatServer chat;
        public StringWriter Log { get; } = new();
        public HttpClient Client { get; }

        public Server()
        {
            var command = new ServeCommand();
            var root = new System.CommandLine.RootCommand();
            root.Subcommands.Add(command.Build());
            var parsed = root.Parse(["serve", .. ModelFlags(), "--port", "0", "--max-batch", "4", "--api-key", Key]);
            Assert.Empty(parsed.Errors);
            chat = command.Create(parsed, Log, out loaded, s => s with
            {
                MaxBodyBytes = 1 << 20, MaxImages = 2, ImageLimits = s.ImageLimits with { MaxBytes = 400_000 },
            });
            chat.StartAsync().GetAwaiter().GetResult();
            Client = new HttpClient { BaseAddress = new Uri(chat.Urls.First()), Timeout = TimeSpan.FromMinutes(5) };
            Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        }

        public void Dispose()
        {
            Client.Dispose();
            chat.DisposeAsync().AsTask().GetAwaiter().GetResult();
            loaded.Dispose();
        }
    }

    private static JsonObject ImagePart(byte[] bytes) => new()
    {
        ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "data:image/jpeg;base64," + Convert.ToBase64String(bytes) },
    };

    private static JsonObject Body(string text, IEnumerable<byte[]> images, bool stream = false, int maxTokens = MaxTokens)
    {
        var content = new JsonArray();
        foreach (var image in images) content.Add(ImagePart(image));
        content.Add(new JsonObject { ["type"] = "text", ["text"] = text });
        return new JsonObject
        {
            ["model"] = "any", ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = stream,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
        };
    }

    private async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> Post(string body, HttpClient? client = null)
    {
        var response = await (client ?? server.Client).PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    /// <summary>`oqvl generate`'s greedy text and token count for the prompt and image.</summary>
    private static (string Text, int Tokens) Generate(string prompt, string image)
    {
        var (rc, output, error) = CliInvocation.Invoke(["generate", .. ModelFlags(), "--image", image, "--prompt", prompt,
            "--max-new-tokens", MaxTokens.ToString(CultureInfo.InvariantCulture), "--show-ids"]);
        Assert.True(rc == 0, error);
        var lines = output.Split('\n');
        int at = Array.FindIndex(lines, l => l.StartsWith("generated ids: ", StringComparison.Ordinal));
        var ids = JsonSerializer.Deserialize<long[]>(lines[at]["generated ids: ".Length..])!;
        return (string.Join('\n', lines[(at + 1)..]).TrimEnd('\n'), ids.Length);
    }

    private static string StreamedText(string sse)
    {
        Assert.EndsWith("data: [DONE]\n\n", sse);
        var chunks = sse.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l[6..])!).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", (string?)c["object"]));
        Assert.NotNull((string?)chunks[^1]["choices"]![0]!["finish_reason"]);
        return string.Concat(chunks.Select(c => (string?)c["choices"]![0]!["delta"]!["content"] ?? ""));
    }

    [Fact]
    public async Task PlainAndStreamedAnswersEqualGenerate()
    {
        const string prompt = "Describe the image.";
        var (expected, tokens) = Generate(prompt, Image("img0.jpg"));
        var image = File.ReadAllBytes(Image("img0.jpg"));

        var (status, body, _) = await Post(Body(prompt, [image]).ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
        var answer = JsonNode.Parse(body)!;
        Assert.Equal(expected, (string?)answer["choices"]![0]!["message"]!["content"]);
        Assert.Equal(tokens, (int)answer["usage"]!["completion_tokens"]!);
        Assert.Equal((int)answer["usage"]!["prompt_tokens"]! + tokens, (int)answer["usage"]!["total_tokens"]!);

        var (streamStatus, sse, _) = await Post(Body(prompt, [image], stream: true).ToJsonString());
        Assert.Equal(HttpStatusCode.OK, streamStatus);
        Assert.Equal(expected, StreamedText(sse));
        Assert.Contains(" out, first token ", server.Log.ToString());
    }

    [Fact]
    public async Task AStopStringCutsTheAnswerBeforeIt()
    {
        var image = File.ReadAllBytes(Image("img2.jpg"));
        var (_, plain, _) = await Post(Body("What is this?", [image]).ToJsonString());
        string full = (string)JsonNode.Parse(plain)!["choices"]![0]!["message"]!["content"]!;
        Assert.True(full.Length >= 4, $"the fixture's answer is too short to cut: '{full}'");
        string stop = full.Substring(full.Length / 2, 2);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        foreach (bool stream in new[] { false, true })
        {
            var body = Body("What is this?", [image], stream);
            body["stop"] = stop;
            var (status, text, _) = await Post(body.ToJsonString());
            Assert.Equal(HttpStatusCode.OK, status);
            if (stream) Assert.Equal(expected, StreamedText(text));
            else
            {
                var choice = JsonNode.Parse(text)!["choices"]![0]!;
                Assert.Equal(expected, (string?)choice["message"]!["content"]);
                Assert.Equal("stop", (string?)choice["finish_reason"]);
            }
        }
    }

    [Fact]
    public async Task BeyondTheQueueRequestsGet429WithRetryAfter()
    {
        var command = new ServeCommand();
        var root = new System.CommandLine.RootCommand();
        root.Subcommands.Add(command.Build());
        var chat = command.Create(root.Parse(["serve", .. ModelFlags(), "--port", "0", "--max-batch", "1", "--max-queue", "0"]), TextWriter.Null, out var loaded);
        try
        {
            await chat.StartAsync();
            using var client = new HttpClient { BaseAddress = new Uri(chat.Urls.First()), Timeout = TimeSpan.FromMinutes(5) };
            // One decoding slot and no queue: of 8 long requests sent at once, the ones arriving while it is taken are refused.
            var body = Body("Tell a long story.", [], maxTokens: 200).ToJsonString();
            var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Post(body, client)));
            Assert.All(answers, a => Assert.Contains(a.Status, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
            Assert.Contains(answers, a => a.Status == HttpStatusCode.OK);
            var refused = answers.Where(a => a.Status == HttpStatusCode.TooManyRequests).ToList();
            Assert.NotEmpty(refused);
            Assert.All(refused, a =>
            {
                Assert.NotNull(a.Response.Headers.RetryAfter);
                Assert.Equal("queue_full", (string?)JsonNode.Parse(a.Body)!["error"]!["code"]);
            });
        }
        finally
        {
            await chat.DisposeAsync();
            loaded.Dispose();
        }
    }

    [Fact]
    public async Task ConcurrentRequestsGetTheirSoloAnswers()
    {
        var bodies = new[] { ("What is this?", "img0.jpg"), ("Say more about the colours in this picture, please.", "img1.png"), ("Hi", "img2.jpg"), ("Two words:", "img0.jpg") }
            .Select(p => Body(p.Item1, [File.ReadAllBytes(Image(p.Item2))]).ToJsonString()).ToArray();
        var solo = new List<string>();
        foreach (var body in bodies) solo.Add((string)JsonNode.Parse((await Post(body)).Body)!["choices"]![0]!["message"]!["content"]!);
        var together = await Task.WhenAll(bodies.Select(b => Post(b)));
        for (int i = 0; i < bodies.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, together[i].Status);
            Assert.Equal(solo[i], (string?)JsonNode.Parse(together[i].Body)!["choices"]![0]!["message"]!["content"]);
        }
    }

    [Fact]
    public async Task AClientThatGoesAwayFreesItsSlot()
    {
        // A streamed request for thousands of tokens; the client reads until decoding has started, then closes the connection.
        const int asked = 3000;
        using var handler = new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero }; // close, don't drain
        using var client = new HttpClient(handler) { BaseAddress = server.Client.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Authorization = server.Client.DefaultRequestHeaders.Authorization;
        var body = Body("Tell a long story.", [], stream: true, maxTokens: asked).ToJsonString();
        var now = JsonNode.Parse(await server.Client.GetStringAsync("/health"))!;
        var before = (Decoding: (int)now["decoding"]!, Admitted: (int)now["admitted"]!);
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            int events = 0;
            while (events < 3 && await reader.ReadLineAsync() is { } line) if (line.StartsWith("data: ", StringComparison.Ordinal)) events++;
            Assert.Equal(3, events);
        }
        // The worker frees the slot at its next step: the request ends ("client gone") long before the tokens asked for,
        // and the counters fall back to what other tests of this shared server may still have running (at most that).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string? gone = null;
        while (gone is null && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(20);
            gone = server.Log.ToString().Split('\n').SingleOrDefault(l => l.Contains("client gone", StringComparison.Ordinal));
        }
        Assert.NotNull(gone);
        var health = JsonNode.Parse(await server.Client.GetStringAsync("/health"))!;
        Assert.True((int)health["decoding"]! <= before.Decoding && (int)health["admitted"]! <= before.Admitted,
            $"after the client left: {health.ToJsonString()}; before it came: decoding {before.Decoding}, admitted {before.Admitted}");
        int outTokens = int.Parse(gone.Split(" tokens in, ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.InRange(outTokens, 1, asked / 2);
    }

    public static TheoryData<string, string, int, string> BadRequests()
    {
        var image = File.ReadAllBytes(Image("img1.png"));
        var small = File.ReadAllBytes(Image("img2.jpg"));
        var bomb = TestImages.PatchPngSize(TestImages.LargeSolidPng(16), 20_000, 20_000);
        string With(Action<JsonObject> change)
        {
            var body = Body("Describe the image.", [image]);
            change(body);
            return body.ToJsonString();
        }
        return new()
        {
            { "malformed json", "{not json", 400, "invalid_json" },
            { "not an object", "[1, 2]", 400, "invalid_request" },
            { "no messages", """{"model": "any"}""", 400, "invalid_value" },
            { "unknown model", With(b => b["model"] = "gpt-9"), 404, "model_not_found" },
            { "bad role", With(b => b["messages"]![0]!["role"] = "robot"), 400, "invalid_value" },
            { "too many images", Body("x", [small, small, small]).ToJsonString(), 400, "too_many_images" },
            { "not base64", With(b => b["messages"]![0]!["content"]![0]!["image_url"]!["url"] = "data:image/png;base64,@@@@"), 400, "invalid_image" },
            { "not an image", With(b => b["messages"]![0]!["content"]![0]!["image_url"]!["url"] = "data:image/jpeg;base64,AAAA"), 400, "invalid_image" },
            { "remote url", With(b => b["messages"]![0]!["content"]![0]!["image_url"]!["url"] = "http://example.com/a.png"), 400, "invalid_image" },
            { "file url without the flag", With(b => b["messages"]![0]!["content"]![0]!["image_url"]!["url"] = "file://" + Image("img1.png")), 400, "local_files_disabled" },
            { "decompression bomb", Body("x", [bomb]).ToJsonString(), 400, "invalid_image" },
            { "image over the byte limit", Body("x", [new byte[500_000]]).ToJsonString(), 413, "image_too_large" },
            { "body over the limit", Body(new string('a', 1_200_000), []).ToJsonString(), 413, "body_too_large" },
            { "prompt over the context", Body(string.Concat(Enumerable.Repeat("hello world ", 5000)), []).ToJsonString(), 400, "context_length_exceeded" },
            { "image placeholder in text", Body("look <image> here", []).ToJsonString(), 400, "invalid_value" },
            { "temperature", With(b => b["temperature"] = 3), 400, "invalid_value" },
            { "top_p", With(b => b["top_p"] = 0), 400, "invalid_value" },
            { "max_tokens", With(b => b["max_tokens"] = 0), 400, "invalid_value" },
            { "stop", With(b => b["stop"] = new JsonArray("a", "b", "c", "d", "e")), 400, "invalid_value" },
            { "n", With(b => b["n"] = 2), 400, "invalid_value" },
            { "stream", With(b => b["stream"] = "yes"), 400, "invalid_value" },
        };
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRequestsGetTheirStatusAndErrorJson(string why, string body, int status, string code)
    {
        var (got, text, _) = await Post(body);
        Assert.True((int)got == status, $"{why}: {(int)got} {text}");
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal(code, (string?)error["code"]);
        string message = (string?)error["message"] ?? "";
        Assert.False(string.IsNullOrWhiteSpace(message));
        // One line naming the problem: no stack frames, no exception type names.
        Assert.DoesNotContain('\n', message);
        Assert.DoesNotContain("Exception", message);
    }

    [Fact]
    public async Task RequestsWithoutTheKeyGet401AndHealthIsOpen()
    {
        using var anonymous = new HttpClient { BaseAddress = server.Client.BaseAddress };
        var (status, text, _) = await Post(Body("hi", []).ToJsonString(), anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_api_key", (string?)JsonNode.Parse(text)!["error"]!["code"]);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        var models = JsonNode.Parse(await server.Client.GetStringAsync("/v1/models"))!;
        Assert.Equal("qwen2", (string?)models["data"]![0]!["id"]);
    }
}
