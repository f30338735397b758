using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Cli.Commands;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// <c>oqvl serve</c> under load (issue 14): the server in-process on loopback with the repository's tiny fixture model
/// (tests/Fixtures/reference), 32 concurrent clients sending 200 streamed requests (half with an image) between them,
/// with continuous batching (--max-batch 16) against one request at a time (--max-batch 1, the baseline), in this run.
/// Every request must be answered or refused with 429, each exactly once (counted by the client's request number, the
/// answers' ids and the server's one log line per request). Latency and time to first token are the clients'.
/// </summary>
public sealed class ServingBenchmark : IBenchmark
{
    private const int Clients = 32, Requests = 200, MaxQueue = 32;

    public string Name => "serving";
    public string Description => "oqvl serve load test: 32 clients, 200 streamed requests, --max-batch 16 vs 1";

    private sealed record Outcome(HttpStatusCode Status, string? Id, int Tokens, double FirstTokenMs, double TotalMs);

    private sealed record Load(int Answered, int Refused, double Seconds, long Tokens, double P50, double P99, double FirstP50, double FirstP99)
    {
        public double TokensPerSecond => Tokens / Seconds;
    }

    public IEnumerable<BenchRow> Run(bool quick)
    {
        int maxTokens = quick ? 8 : 16;
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        var off = Measure(1, maxTokens);
        var on = Measure(16, maxTokens);
        string setup = $"{Requests} requests, {Clients} clients, max_tokens {maxTokens}, --max-queue {MaxQueue}";
        yield return new BenchRow($"machine: {Environment.ProcessorCount} cores, 1-min load {load} at the start", "setting", Environment.ProcessorCount, "cores");
        foreach (var (name, r, baseline) in new[] { ("--max-batch 1", off, (Load?)null), ("--max-batch 16 (continuous batching)", on, off) })
        {
            yield return new BenchRow($"{name}; {setup}", "answered / 429", r.Answered, $"/ {r.Refused}");
            yield return new BenchRow(name, "throughput", r.TokensPerSecond, "tokens/s", baseline is null ? null : "--max-batch 1", baseline is null ? null : r.TokensPerSecond / baseline.TokensPerSecond);
            yield return new BenchRow(name, "latency p50", r.P50, "ms", baseline is null ? null : "--max-batch 1 (lower is better)", baseline is null ? null : baseline.P50 / r.P50);
            yield return new BenchRow(name, "latency p99", r.P99, "ms", baseline is null ? null : "--max-batch 1 (lower is better)", baseline is null ? null : baseline.P99 / r.P99);
            yield return new BenchRow(name, "time to first token p50", r.FirstP50, "ms", baseline is null ? null : "--max-batch 1 (lower is better)", baseline is null ? null : baseline.FirstP50 / r.FirstP50);
            yield return new BenchRow(name, "time to first token p99", r.FirstP99, "ms");
        }
    }

    private static string RepositoryFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "OpenQwen2VL.slnx"))) return Path.Combine([dir.FullName, .. parts]);
        throw new DirectoryNotFoundException($"no OpenQwen2VL.slnx above {AppContext.BaseDirectory}: run the benchmark from the repository");
    }

    private static Load Measure(int maxBatch, int maxTokens) => MeasureAsync(maxBatch, maxTokens).GetAwaiter().GetResult();

    private static async Task<Load> MeasureAsync(int maxBatch, int maxTokens)
    {
        string Fixture(params string[] parts) => RepositoryFile(["tests", "Fixtures", "reference", .. parts]);
        string pool;
        using (var meta = SafetensorsFile.Open(Fixture("vlm_case.safetensors")))
            pool = System.Text.Json.JsonSerializer.Deserialize<int[]>(meta.Metadata["pool_sizes"])![0].ToString(CultureInfo.InvariantCulture);
        var command = new ServeCommand();
        var root = new System.CommandLine.RootCommand();
        root.Subcommands.Add(command.Build());
        var parsed = root.Parse(["serve", "--llm", Fixture("qwen2"), "--vision", Fixture("siglip"), "--projector", Fixture("projector.safetensors"),
            "--tokenizer", Fixture("tokenizer.json"), "--prompt-format", "plain", "--visual-tokens", (int.Parse(pool, CultureInfo.InvariantCulture) * int.Parse(pool, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture),
            "--port", "0", "--max-batch", maxBatch.ToString(CultureInfo.InvariantCulture), "--max-queue", MaxQueue.ToString(CultureInfo.InvariantCulture)]);
        if (parsed.Errors.Count > 0) throw new InvalidOperationException(string.Join("; ", parsed.Errors.Select(e => e.Message)));
        var log = new LineCounter();
        var server = command.Create(parsed, log, out var loaded);
        try
        {
            await server.StartAsync();
            using var client = new HttpClient { BaseAddress = new Uri(server.Urls.First()), Timeout = TimeSpan.FromMinutes(10) };
            string image = Convert.ToBase64String(File.ReadAllBytes(Fixture("images", "img0.jpg")));
            await Send(client, Body(0, maxTokens, image)); // warm-up
            int logLinesBefore = log.Lines;

            var outcomes = new ConcurrentDictionary<int, Outcome>();
            int next = -1;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
            {
                for (int i; (i = Interlocked.Increment(ref next)) < Requests;)
                    if (!outcomes.TryAdd(i, await Send(client, Body(i, maxTokens, image)))) throw new InvalidOperationException($"request {i} answered twice");
            })));
            double seconds = clock.Elapsed.TotalSeconds;

            // None lost or duplicated: one outcome per request number, distinct answer ids, one log line per request.
            if (outcomes.Count != Requests) throw new InvalidOperationException($"{Requests - outcomes.Count} requests got no outcome");
            var bad = outcomes.Values.Where(o => o.Status is not (HttpStatusCode.OK or HttpStatusCode.TooManyRequests)).ToList();
            if (bad.Count > 0) throw new InvalidOperationException($"{bad.Count} requests got {string.Join(", ", bad.Select(b => (int)b.Status).Distinct())}");
            var answered = outcomes.Values.Where(o => o.Status == HttpStatusCode.OK).ToList();
            if (answered.Select(o => o.Id).Distinct().Count() != answered.Count || answered.Any(o => o.Id is null))
                throw new InvalidOperationException("answers with missing or repeated ids");
            // A handler logs its line just after its client has the whole answer: give the last ones a moment.
            for (int wait = 0; wait < 100 && log.Lines - logLinesBefore < Requests; wait++) await Task.Delay(50);
            int logged = log.Lines - logLinesBefore;
            if (logged != Requests) throw new InvalidOperationException($"the server logged {logged} requests, not {Requests}");

            var totals = answered.Select(o => o.TotalMs).Order().ToList();
            var firsts = answered.Where(o => o.Tokens > 0).Select(o => o.FirstTokenMs).Order().ToList();
            return new Load(answered.Count, Requests - answered.Count, seconds, answered.Sum(o => (long)o.Tokens),
                Percentile(totals, 50), Percentile(totals, 99), Percentile(firsts, 50), Percentile(firsts, 99));
        }
        finally
        {
            await server.DisposeAsync();
            loaded.Dispose();
        }
    }

    /// <summary>The server's log, counted in lines (written from many request threads).</summary>
    private sealed class LineCounter : TextWriter
    {
        private int lines;
        public int Lines => Volatile.Read(ref lines);
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value)
        {
            if (value == '\n') Interlocked.Increment(ref lines);
        }
    }

    /// <summary>Request <paramref name="i"/>: every other one with the image, prompts of different lengths; greedy, streamed with usage.</summary>
    private static string Body(int i, int maxTokens, string imageBase64)
    {
        var content = new JsonArray();
        if (i % 2 == 0) content.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "data:image/jpeg;base64," + imageBase64 } });
        content.Add(new JsonObject { ["type"] = "text", ["text"] = $"Request {i}: " + string.Concat(Enumerable.Repeat("describe the picture ", 1 + i % 7)) });
        return new JsonObject
        {
            ["model"] = "any", ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
        }.ToJsonString();
    }

    private static async Task<Outcome> Send(HttpClient client, string body)
    {
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            await response.Content.ReadAsStringAsync();
            return new Outcome(response.StatusCode, null, 0, double.NaN, clock.Elapsed.TotalMilliseconds);
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? id = null;
        int tokens = 0;
        double first = double.NaN;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
            var chunk = JsonNode.Parse(line[6..])!;
            id ??= (string?)chunk["id"];
            if (double.IsNaN(first) && chunk["choices"] is JsonArray { Count: > 0 } choices && (string?)choices[0]!["delta"]!["content"] is { Length: > 0 })
                first = clock.Elapsed.TotalMilliseconds;
            if (chunk["usage"] is JsonObject usage) tokens = (int)usage["completion_tokens"]!;
        }
        return new Outcome(response.StatusCode, id, tokens, first, clock.Elapsed.TotalMilliseconds);
    }

    private static double Percentile(List<double> sorted, int p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];
}
